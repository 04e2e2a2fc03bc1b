"""Consent per purpose: the policy (rules), the same policy inside other statements (store), recording
and requiring it (service)."""
