"""Accounts over HTTP: /auth/* (register, login, refresh, logout) and the profile (GET/PATCH/DELETE /me)."""
