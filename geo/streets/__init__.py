"""Street graph and search: pure (no database, no HTTP)."""
