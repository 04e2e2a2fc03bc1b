"""Alembic environment: run migrations on the connection the service hands over.

`api.database.migrate` passes an open connection in `config.attributes`; the
`alembic` command line is supported too, with DATABASE_URL set.
"""

from __future__ import annotations

import asyncio
import os

from sqlalchemy.engine import Connection

from alembic import context
from domain.core.partitions import is_partition
from domain.schema import metadata

config = context.config


def include_name(name: str | None, type_: str, parents: object) -> bool:
    """Leave the history tables' monthly partitions out of autogenerate (the service makes them)."""
    return not (type_ == "table" and name is not None and is_partition(name))


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection, target_metadata=metadata, compare_type=True, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    from api.database import make_engine, to_async_url

    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL to run alembic directly, or use `saferoutes migrate`.")

    async def run() -> None:
        engine = make_engine(to_async_url(url), null_pool=True)
        async with engine.begin() as conn:
            await conn.run_sync(run_on)
        await engine.dispose()

    asyncio.run(run())


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run them against a database.")
run_online()
