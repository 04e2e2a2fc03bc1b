"""Accounts: users and refresh tokens (tables), handle, password and token rules (rules), register,
log in, rotate, log out, edit the profile (service)."""
