"""The service's pool keeps its connections: more requests than connections wait for one,
they never open (and close again) extra PostgreSQL backends."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from api.database import make_engine


async def test_requests_beyond_the_pool_wait_for_its_connections(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=2)

    async def backend() -> int:
        async with engine.connect() as conn:
            pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
            await asyncio.sleep(0.05)  # every request holds its connection at once
            return int(pid)

    try:
        first = await asyncio.gather(*(backend() for _ in range(8)))
        again = await asyncio.gather(*(backend() for _ in range(8)))
        assert len(set(first)) == 2
        assert set(again) == set(first)  # the same two backends: none was closed and reopened
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
