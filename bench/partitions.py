"""Partitioned history against plain tables: the retention job and a heatmap query, on a year of rides.

Run: ``.venv/bin/python bench/partitions.py [SERVER_URL] [--rides 100000] [--cells 24] [--repeat 3]``.

SERVER_URL is a PostgreSQL server the bench may create databases on
(default: TEST_DATABASE_URL, else ``postgresql://postgres@127.0.0.1:5432/postgres``).
It makes a database at revision 0015 (plain tables) and fills it with a year
of simulated rides, 2025-12-01 to 2026-11-30 UTC, spread evenly: ``--rides``
rides of ``--cells`` cells each by 2,000 consenting riders over a city of
about 40,000 resolution-10 cells around Mechelen, with their per-day
exposure and transition aggregates. The partitioned side is a copy of that
database (``CREATE DATABASE ... TEMPLATE``) upgraded to head by migration
0016, which is timed too. Both databases are dropped at the end.

Measured on both, same data, same moment:
- the heatmap query, the bounded per-person contributions a cell release
  reads (``privacy.release.store.bounded_cells`` at resolution 9), for one
  month (2026-06) and for the whole year, best of ``--repeat``, both sides
  taking turns;
- the retention job at 365 days, first as a monthly catch-up (run on
  2027-01-05: all of December 2025 and four days of January 2026 expire),
  then the next day's run (one more day). The baseline is the rule as it
  was before partitioning (batches of 5,000 joined to ``ride``); the
  partitioned side runs ``privacy.retention.service.apply`` whole (partition
  maintenance, the drop, the row-wise rest, and the other rules on their
  empty tables). Each runs once: it deletes what it measures.
Prints figures only, each with its ratio (plain / partitioned: above 1 is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import h3
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alembic import command
from api.database import alembic_config, make_engine, make_sessionmaker, to_async_url
from privacy.release import store as release_store
from privacy.release.rules import Window
from privacy.retention import service as retention

RIDERS = 2000
FIRST = datetime(2025, 12, 1, tzinfo=UTC)
DAYS = 365
RETENTION_DAYS = 365
CATCH_UP = datetime(2027, 1, 5, 3, 15, tzinfo=UTC)
NEXT_DAY = CATCH_UP + timedelta(days=1)
MONTH = Window(date(2026, 6, 1), date(2026, 6, 30))
YEAR = Window(date(2025, 12, 1), date(2026, 11, 30))
TODAY = date(2026, 12, 5)

_USERS = """
WITH users AS (
  INSERT INTO app_user (id, handle, handle_key, password_hash, role, nickname, privacy_seed, created_at)
  SELECT gen_random_uuid(), 'bench' || i, 'bench' || i, 'x', 'citizen', 'bench' || i, '\\x00', :first
  FROM generate_series(0, :riders - 1) AS i RETURNING id
)
INSERT INTO consent_record (id, user_id, purpose, granted, policy_version, recorded_at, given_by)
SELECT gen_random_uuid(), id, p, true, '2025-01', :first, 'self'
FROM users, unnest(ARRAY['ride_tracking', 'research_sharing']) AS p
"""
_RIDES = """
INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution, cell_count,
                  segment_count, trimmed_m, point_count, kept_point_count, incidents_filed, created_at)
SELECT gen_random_uuid(), u.ids[1 + i % :riders], 'bike', 2000, 600,
       date_trunc('minute', CAST(:first AS timestamptz) + (i::float8 / :rides) * interval '365 days'),
       10, :cells, 1, 0, 600, 600, 0, :first
FROM generate_series(0, :rides - 1) AS i, (SELECT array_agg(id ORDER BY id) AS ids FROM app_user) AS u
"""
_RIDE_CELLS = """
INSERT INTO ride_cell (ride_id, seq, cell, segment, offset_s, speed_mps, filled)
SELECT r.id, s, city.cells[1 + (abs(hashtext(r.id::text)) + s) % cardinality(city.cells)],
       0, 20 * s, 4.5, false
FROM ride r, generate_series(0, :cells - 1) AS s, (SELECT CAST(:city AS bigint[]) AS cells) AS city
"""
_EXPOSURE = """
INSERT INTO cell_exposure (cell, day, mode, user_id, rides)
SELECT c.cell, (r.started_at AT TIME ZONE 'UTC')::date, 'bike', r.user_id, count(DISTINCT r.id)
FROM ride_cell c JOIN ride r ON r.id = c.ride_id GROUP BY 1, 2, 4
"""
_TRANSITIONS = """
INSERT INTO cell_transition (from_cell, to_cell, day, mode, user_id, traversals)
SELECT a.cell, b.cell, (r.started_at AT TIME ZONE 'UTC')::date, 'bike', r.user_id, count(*)
FROM ride_cell a JOIN ride_cell b ON b.ride_id = a.ride_id AND b.seq = a.seq + 1
JOIN ride r ON r.id = a.ride_id WHERE a.cell <> b.cell GROUP BY 1, 2, 3, 5
"""
_OLD_RULE = """
DELETE FROM ride_cell WHERE ctid IN (SELECT rc.ctid FROM ride_cell rc
  JOIN ride r ON r.id = rc.ride_id WHERE r.started_at < :cutoff LIMIT :batch)
"""


def _migrate(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def _city() -> list[int]:
    centre = h3.latlng_to_cell(51.03, 4.48, 10)
    return sorted(h3.str_to_int(c) for c in h3.grid_disk(centre, 115))


async def _timed(work: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await work()
    return time.perf_counter() - start


async def _seed(engine: AsyncEngine, rides: int, cells: int) -> None:
    params = {"first": FIRST, "riders": RIDERS, "rides": rides, "cells": cells, "city": _city()}
    for statement in (_USERS, _RIDES, _RIDE_CELLS, _EXPOSURE, _TRANSITIONS):
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement), params)


async def _vacuum(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(sa.text("VACUUM ANALYZE"))


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            t: (await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar_one()
            for t in ("ride", "ride_cell", "cell_exposure", "cell_transition")
        }


async def _heatmap(engine: AsyncEngine, window: Window) -> int:
    async with make_sessionmaker(engine)() as session:
        cells = await release_store.bounded_cells(
            session, window, resolution=9, secret=b"bench", max_cells=8, max_passes=8, today=TODAY
        )
    return len(cells)


async def _old_retention(engine: AsyncEngine, now: datetime) -> int:
    cutoff, removed = now - timedelta(days=RETENTION_DAYS), 0
    while True:
        async with engine.begin() as conn:
            deleted = (
                await conn.execute(sa.text(_OLD_RULE), {"cutoff": cutoff, "batch": retention.BATCH})
            ).rowcount
        removed += deleted
        if deleted < retention.BATCH:
            return removed


def _line(name: str, plain: float, parted: float, unit: str = "ms") -> None:
    scale = 1e3 if unit == "ms" else 1.0
    print(
        f"  {name:<34} plain {plain * scale:9.1f} {unit}  partitioned {parted * scale:9.1f} {unit}"
        f"  ratio {plain / parted:6.2f}x"
    )


async def run(server: str, rides: int, cells: int, repeat: int) -> None:
    suffix = secrets.token_hex(4)
    names = {"plain": f"sr_bench_plain_{suffix}", "parted": f"sr_bench_parted_{suffix}"}
    admin = make_engine(server, null_pool=True).execution_options(isolation_level="AUTOCOMMIT")

    def engine_of(key: str) -> AsyncEngine:
        url = make_url(server).set(database=names[key]).render_as_string(hide_password=False)
        return make_engine(url, null_pool=True, command_timeout=None)

    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{names["plain"]}"'))
        plain = engine_of("plain")
        async with plain.begin() as conn:
            await conn.run_sync(_migrate, "0015")
        seeded = await _timed(lambda: _seed(plain, rides, cells))
        await plain.dispose()
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'CREATE DATABASE "{names["parted"]}" TEMPLATE "{names["plain"]}"'))
        parted = engine_of("parted")

        async def upgrade() -> None:
            async with parted.begin() as conn:
                await conn.run_sync(_migrate, "head")

        migrated = await _timed(upgrade)
        await _vacuum(plain)
        await _vacuum(parted)
        counts = await _counts(plain)
        assert counts == await _counts(parted), "the migration lost rows"
        print(
            f"a year of rides: {counts['ride']:,} rides, {counts['ride_cell']:,} cell visits,"
            f" {counts['cell_exposure']:,} exposure and {counts['cell_transition']:,} transition rows"
            f" (seeded in {seeded:.0f} s; migration 0016 on them: {migrated:.1f} s)"
        )

        print(f"heatmap query (bounded contributions, resolution 9), best of {repeat}:")
        for label, window in (("one month (2026-06)", MONTH), ("one year", YEAR)):
            best = {"plain": float("inf"), "parted": float("inf")}
            found: dict[str, int] = {}
            for _ in range(repeat):
                for key, engine in (("plain", plain), ("parted", parted)):
                    start = time.perf_counter()
                    found[key] = await _heatmap(engine, window)
                    best[key] = min(best[key], time.perf_counter() - start)
            assert found["plain"] == found["parted"], found
            _line(f"{label}, {found['plain']:,} cells", best["plain"], best["parted"])

        print(f"retention job ({RETENTION_DAYS} days), once each:")
        for label, now in (("monthly catch-up (2027-01-05)", CATCH_UP), ("next day (2027-01-06)", NEXT_DAY)):
            before = (await _counts(plain))["ride_cell"]
            start = time.perf_counter()
            removed = await _old_retention(plain, now)
            old = time.perf_counter() - start
            start = time.perf_counter()
            report = await retention.apply(parted, now=now, retention_days=RETENTION_DAYS)
            new = time.perf_counter() - start
            after = await _counts(parted)
            assert after["ride_cell"] == before - removed, "both sides must keep the same rows"
            dropped = f", dropped {', '.join(report.dropped)}" if report.dropped else ""
            _line(label, old, new)
            deleted = report.removed["ride_cell"]
            print(f"    {removed:,} cell visits expired; partitioned: {deleted:,} deleted{dropped}")
    finally:
        for name in names.values():
            async with admin.connect() as conn:
                await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("server", nargs="?", default=default, help="a server URL (databases are made on it)")
    parser.add_argument("--rides", type=int, default=100_000)
    parser.add_argument("--cells", type=int, default=24, help="cells per ride")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(to_async_url(args.server), args.rides, args.cells, args.repeat))


if __name__ == "__main__":
    main()
