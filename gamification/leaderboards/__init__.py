"""Leaderboards: fair ranking and period windows (rules), the running totals (store), who sees what
(service)."""
