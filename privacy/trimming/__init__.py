"""Start and end trimming of rides by a per-ride randomised radius (rules)."""
