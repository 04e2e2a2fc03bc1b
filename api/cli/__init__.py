"""The ``saferoutes`` command: serve, migrate, create-user (``main``), and demo, export, open-data,
retention."""
