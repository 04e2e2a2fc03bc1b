"""The cost of `domain.core.sql` against bare asyncpg: one transaction of a few hot statements.

Run: ``.venv/bin/python bench/hot_sql.py [--transactions 3000] [--statements 4]`` with
``DATABASE_URL`` (a scratch database; the bench writes nothing) or without it
(an embedded PostgreSQL in a temporary folder).

Each transaction runs ``--statements`` small statements and commits:

- baseline: bare asyncpg, ``async with connection.transaction()``;
- service: an AsyncSession from the service's sessionmaker, statements through
  ``domain.core.sql`` (the first through SQLAlchemy, which begins the
  transaction, the rest straight on asyncpg), then ``session.commit()``;
- orm: the same statements through ``session.execute(sa.text(...))``.

Prints CPU time per transaction (this process) and each path's ratio to the
baseline, alternating the paths in rounds so that the machine's drift hits all
alike. No assertions: it reports figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.database import make_engine, make_sessionmaker, to_async_url  # noqa: E402
from domain.core import sql  # noqa: E402

_STATEMENT = "SELECT CAST(:n AS int) + 1 AS n"
_HOT = sql.sql(_STATEMENT)
_TEXT = sa.text(_STATEMENT)


async def _baseline(conn: asyncpg.Connection, rounds: int, statements: int) -> float:
    started = time.process_time()
    for i in range(rounds):
        async with conn.transaction():
            for _ in range(statements):
                await conn.fetchrow(_HOT.text, i)
    return (time.process_time() - started) / rounds


async def _service(sessions: sa.ext.asyncio.async_sessionmaker, rounds: int, statements: int) -> float:  # type: ignore[name-defined]
    started = time.process_time()
    for i in range(rounds):
        async with sessions() as session:
            for _ in range(statements):
                await sql.fetchrow(session, _HOT, n=i)
            await session.commit()
    return (time.process_time() - started) / rounds


async def _orm(sessions: sa.ext.asyncio.async_sessionmaker, rounds: int, statements: int) -> float:  # type: ignore[name-defined]
    started = time.process_time()
    for i in range(rounds):
        async with sessions() as session:
            for _ in range(statements):
                (await session.execute(_TEXT, {"n": i})).one()
            await session.commit()
    return (time.process_time() - started) / rounds


async def run(url: str, transactions: int, statements: int) -> None:
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    raw_url = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(raw_url)
    per_round = max(transactions // 5, 1)
    figures: dict[str, list[float]] = {"baseline": [], "service": [], "orm": []}
    await _service(sessions, 50, statements)  # warm the pool, the statement caches and the codecs
    await _orm(sessions, 50, statements)
    await _baseline(conn, 50, statements)
    for _ in range(5):
        figures["baseline"].append(await _baseline(conn, per_round, statements))
        figures["service"].append(await _service(sessions, per_round, statements))
        figures["orm"].append(await _orm(sessions, per_round, statements))
    await conn.close()
    await engine.dispose()
    base = statistics.median(figures["baseline"])
    print(f"{per_round * 5} transactions of {statements} statements, CPU per transaction (median of 5)")
    for name, values in figures.items():
        cpu = statistics.median(values)
        print(f"  {name:8s} {cpu * 1e6:8.1f} µs   ratio to bare asyncpg {cpu / base:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--statements", type=int, default=4)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if url:
        asyncio.run(run(to_async_url(url), args.transactions, args.statements))
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="sr-bench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        try:
            asyncio.run(run(to_async_url(server.get_uri("postgres")), args.transactions, args.statements))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
