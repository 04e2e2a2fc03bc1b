"""Rides: stored as cells (tables), the pipeline from upload to cells and the incident checks (rules),
the set-based writes (store), ingest, list, read and delete (service), and what an upload asks of
others on the bus (events)."""
