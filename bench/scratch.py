"""A migrated throwaway database for benchmarks: DATABASE_URL's server, or an embedded pgserver."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from api.database import make_engine, migrate, to_async_url


@asynccontextmanager
async def scratch_database() -> AsyncIterator[AsyncEngine]:
    """A migrated database: DATABASE_URL (its tables are emptied first!), or an embedded throwaway server."""
    configured = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="sr-bench-") as tmp:
        server = None
        if configured:
            url = configured
        else:
            import pgserver

            server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
            server.psql("CREATE DATABASE bench;")
            url = server.get_uri("bench")
        engine = make_engine(to_async_url(url), null_pool=True, command_timeout=None)
        try:
            await migrate(engine)
            yield engine
        finally:
            await engine.dispose()
            if server is not None:
                server.cleanup()
