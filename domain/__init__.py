"""The capabilities, one package each (docs/architecture.md): ``tables.py`` (SQLModel tables), ``rules.py``
(pure rules: no SQLAlchemy), ``store.py`` (statements and reads, no commit), ``service.py`` (use cases,
one commit each), ``events.py`` (what it announces on the bus). ``core`` is the shared kernel,
``bootstrap`` wires the bus, ``schema`` gathers every table for Alembic."""
