"""Self-service access, portability and erasure: every table that holds personal data (inventory)
and the export and erase use cases (service)."""
