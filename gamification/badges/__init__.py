"""Badges: the declarative catalogue (rules), the figures they need (store), holding and granting
(service)."""
