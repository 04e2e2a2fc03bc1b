"""Points: the point rules and caps (rules) and the exactly-once ledger and awards (service)."""
