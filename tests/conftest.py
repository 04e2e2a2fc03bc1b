"""A real PostgreSQL for the tests: embedded by default, TEST_DATABASE_URL to use a server.

Each test session gets a fresh database of its own, migrated with the real
Alembic migrations, so parallel sessions never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from api.database import make_engine, migrate, to_async_url
from domain.core.columns import CLOCK
from tests.clock import session_clock

# Use cases a test calls directly read the test clock too (the app gets it through create_app's
# clock): no test depends on the wall clock or the machine's time zone (tests/clock.py).
CLOCK.set(session_clock)


def _server_url() -> Iterator[str]:
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        yield to_async_url(configured)
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="sr-pg-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        yield to_async_url(server.get_uri("postgres"))
        server.cleanup()


@pytest.fixture(scope="session")
def database_server_url() -> Iterator[str]:
    yield from _server_url()


@pytest.fixture(scope="session")
async def database_url(database_server_url: str) -> AsyncGenerator[str, None]:
    """A fresh, migrated database for this test session, dropped at the end."""
    name = f"sr_test_{secrets.token_hex(6)}"
    admin = make_engine(database_server_url, null_pool=True).execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_server_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, null_pool=True)
    await migrate(engine)
    await engine.dispose()
    yield url
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(scope="session")
async def db_engine(database_url: str) -> AsyncGenerator[AsyncEngine, None]:
    engine = make_engine(database_url, null_pool=True)
    yield engine
    await engine.dispose()


async def truncate_all(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        query = sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        names = (await conn.execute(query)).scalars().all()
        if names:
            await conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))


@pytest.fixture
async def clean_db(db_engine: AsyncEngine) -> AsyncEngine:
    """Every integration test starts from empty tables."""
    await truncate_all(db_engine)
    return db_engine


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "integration: needs the test PostgreSQL")
