"""Challenges: the draft checks (rules), the raw-ride standings (store), create, list, read, pay out
(service)."""
