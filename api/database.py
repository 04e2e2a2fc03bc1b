"""Where the database is, how to connect, and how the schema gets there.

`DATABASE_URL` names a server; without it an embedded PostgreSQL (the
`pgserver` wheel's binaries, `api/embedded.py`) runs in the data folder, so a
new user needs only Python.
Alembic migrations are the only way the schema is made.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from alembic import command
from api.embedded import EmbeddedPostgres
from api.settings import Settings
from domain.bootstrap import build_bus
from domain.core.bus import BUS_KEY, Bus
from domain.core.replica import on_replica

log = logging.getLogger("saferoutes.database")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_DIR = PROJECT_ROOT / "alembic"
EMBEDDED_DB_NAME = "saferoutes"

# this process's share of the embedded server (api/embedded.py), once it needed one
_embedded: list[EmbeddedPostgres] = []


def to_async_url(url: str) -> str:
    """Accept the usual `postgresql://` spellings and select the asyncpg driver."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError("DATABASE_URL must be a PostgreSQL URL (postgresql://…)")
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def describe(settings: Settings) -> str:
    """Which database a command uses, for people: the embedded one's folder, or the server without
    its password."""
    if not settings.database_url:
        return f"embedded PostgreSQL at {settings.data_dir / 'pgdata'}"
    try:
        url = make_url(settings.database_url)
    except ValueError:
        return "DATABASE_URL (unreadable)"
    kept = {k: v for k, v in url.query.items() if k in ("host", "port")}
    shown = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, kept)
    return f"{unquote(shown.render_as_string(hide_password=False))} (DATABASE_URL)"


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in `data_dir` and return the app database URL.

    The process holds it until `release_embedded` (also called at exit); the
    last process to let go stops the server.
    """
    if not _embedded:
        _embedded.append(EmbeddedPostgres(data_dir))
        atexit.register(release_embedded)
    server = _embedded[0]
    log.info("using the embedded PostgreSQL", extra={"pgdata": str(server.pgdata)})
    server.acquire()
    server.ensure_database(EMBEDDED_DB_NAME)
    return server.url(EMBEDDED_DB_NAME)


def embedded_server() -> EmbeddedPostgres | None:
    """The embedded server this process holds, if any (to supervise it)."""
    return _embedded[0] if _embedded and _embedded[0].holding else None


def release_embedded() -> None:
    """Let go of the embedded server; stops it when no other process holds it."""
    for server in _embedded:
        server.release()


def resolve_url(settings: Settings) -> str:
    """The async URL to use, starting the embedded server when no server is configured."""
    if settings.database_url:
        return to_async_url(settings.database_url)
    return to_async_url(start_embedded(settings.data_dir))


def make_engine(
    url: str,
    *,
    null_pool: bool = False,
    pool_size: int = Settings.db_pool_size,
    command_timeout: float | None = 30,
    application_name: str = "saferoutes",
) -> AsyncEngine:
    """The service's engine: a fixed pool of `pool_size` connections, 5 s to connect or to wait
    for one.

    ``command_timeout``: seconds a statement may run; None for migrations, whose backfills take longer.
    No overflow: SQLAlchemy closes an overflow connection as soon as it is given
    back to a full pool, so under load the service opened a new connection (a
    PostgreSQL backend, and every prepared statement again) every few requests.
    A request now waits for a pooled connection instead: at 50 requests in
    flight that churn had cost about 30 % of the CPU of a small request
    (bench/ingest.py --floor: 2.9 -> 2.0 ms).
    No pre-ping: it would cost a round trip on every checkout, and an upload
    checks out several times. A server restart instead costs each worker one
    503 (asyncpg reports the dead connection, SQLAlchemy then discards every
    pooled connection older than the failure), which clients retry.
    ``application_name`` names the connections in ``pg_stat_activity`` (``saferoutes-read`` on a
    replica, ``api.replica``).
    """
    kwargs: dict[str, Any] = {"poolclass": NullPool}
    if not null_pool:
        kwargs = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": 5, "pool_recycle": 1800}
    connect_args = {
        "timeout": 5,
        "command_timeout": command_timeout,
        "server_settings": {"application_name": application_name},
    }
    # errors would otherwise quote a statement's parameters, which hold request values
    return create_async_engine(url, connect_args=connect_args, hide_parameters=True, **kwargs)


def autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The same pool without BEGIN/COMMIT round trips, for single-statement reads and counters."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def make_sessionmaker(
    engine: AsyncEngine, bus: Bus | None = None, *, primary: async_sessionmaker[Any] | None = None
) -> async_sessionmaker[Any]:
    """Sessions that carry the message bus (`domain.core.bus`); by default one without a broker push.

    ``primary``: ``engine`` is a read replica's, and the sessions know the primary's for the writes
    a read may lead to (`domain.core.replica`).
    """
    info: dict[str, Any] = {BUS_KEY: bus or build_bus()}
    if primary is not None:
        info = on_replica(info, primary)
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ALEMBIC_DIR))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def migrate(engine: AsyncEngine) -> None:
    """Apply every pending migration, serialised by an advisory lock across processes."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(7291001)"))
        await conn.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def migrate_sync(url: str) -> None:
    async def run() -> None:
        engine = make_engine(url, null_pool=True, command_timeout=None)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
