"""Storage limitation: what the retention job removes, and when (service)."""
