"""The simulated demo city, seeded through the same use cases as the API (``saferoutes demo``)."""
