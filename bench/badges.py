"""The explorer badge's figure for riders with a long history, stored areas against counting cells.

Run: ``.venv/bin/python bench/badges.py [--runs 200]`` (``DATABASE_URL``: a
scratch database, whose tables are emptied first; otherwise an embedded server).

While a rider does not hold the explorer badge (25 distinct resolution-8
areas), every qualifying upload asks how many areas they have ridden through.
A commuter who rides the same few neighbourhoods never gets there, so the
question is asked on every upload for as long as they ride. This bench seeds
2 000 other riders (100 000 rides) and three commuters with 30, 300 and 1 000
rides of 70 cells each, in 12 areas, with their ``explorer_area`` rows as the
upload keeps them, then times, per commuter (p50 / p95 over ``--runs``):

- baseline: the statement that answered before migration 0011, a distinct
  count of parent cells over every stored cell of the rider's rides;
- stored: ``gamification.badges.store.user_stats`` for the explorer badge, as an
  upload calls it (a count of the rider's ``explorer_area`` rows).

Prints figures and the ratio stored / baseline of the p50s, measured in the
same run. No assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.database import make_sessionmaker
from bench.scratch import scratch_database
from gamification.badges import store as stats
from gamification.badges.rules import CATALOGUE, Explorer

OTHERS, OTHER_RIDES, CELLS_PER_RIDE, AREAS = 2_000, 100_000, 70, 12
HISTORIES = (30, 300, 1_000)
EXPLORER = [b for b in CATALOGUE if isinstance(b.rule, Explorer)]

_USERS = """
INSERT INTO app_user (id, handle, handle_key, password_hash, role, birth_year, nickname, privacy_seed,
                      created_at)
SELECT gen_random_uuid(), 'u' || i, 'u' || i, 'x', 'citizen', 1985, 'Rider ' || i, '\\x00', now()
FROM generate_series(1, :n) i
"""
_RIDES = """
INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution, cell_count,
                  segment_count, trimmed_m, point_count, kept_point_count, incidents_filed, created_at,
                  flagged, flags)
SELECT gen_random_uuid(), u.id, 'bike', 4000, 900, now() - (i % 360) * interval '1 day', 10, :cells, 1,
       200, 900, 900, 0, now(), false, '{}'
FROM generate_series(1, :n) i
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM app_user WHERE handle LIKE :handles) u
  ON u.k = 1 + (i % :users)
"""
# every ride crosses the same 12 resolution-8 areas, 70 cells of resolution 10 inside them
_CELLS = """
INSERT INTO ride_cell (ride_id, seq, cell, segment, offset_s, speed_mps, filled, started_at)
SELECT r.id, s, a.cells[1 + s % array_length(a.cells, 1)], 0, s * 10, 5.0, false, r.started_at
FROM ride r JOIN app_user u ON u.id = r.user_id AND u.handle LIKE :handles,
     (SELECT CAST(:cells AS bigint[]) AS cells) a, generate_series(0, :per_ride - 1) s
"""
_EXPLORED = f"""
INSERT INTO explorer_area (user_id, resolution, area, rides)
SELECT r.user_id, 8, {stats.parent_cell_sql("c.cell", 8)}, count(DISTINCT r.id)
FROM ride r JOIN ride_cell c ON c.ride_id = r.id JOIN app_user u ON u.id = r.user_id
WHERE u.handle LIKE 'commuter%'
GROUP BY 1, 3
"""
_BEFORE = sa.text(
    f"""
    SELECT count(DISTINCT {stats.parent_cell_sql("c.cell", 8)}) FROM ride r
    JOIN ride_cell c ON c.ride_id = r.id
    WHERE r.user_id = :user_id AND {stats.qualifying_sql()} AND ((c.cell >> 52) & 15) >= 8
    """
)
"""What `stats` ran for the explorer figure before migration 0011."""


def commute_cells() -> list[int]:
    centre = h3.latlng_to_cell(51.0259, 4.4776, 8)
    areas = sorted(h3.grid_disk(centre, 2))[:AREAS]
    return [h3.str_to_int(c) for a in areas for c in sorted(h3.cell_to_children(a, 10))[:6]]


async def seed(engine: AsyncEngine) -> dict[int, uuid.UUID]:
    async with engine.begin() as conn:
        tables = await conn.execute(
            sa.text(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        )
        await conn.execute(sa.text(f"TRUNCATE {', '.join(tables.scalars())} CASCADE"))
        await conn.execute(sa.text(_USERS), {"n": OTHERS})
        await conn.execute(
            sa.text(_RIDES), {"n": OTHER_RIDES, "cells": CELLS_PER_RIDE, "handles": "u%", "users": OTHERS}
        )
        cells = commute_cells()
        await conn.execute(sa.text(_CELLS), {"handles": "u%", "cells": cells, "per_ride": CELLS_PER_RIDE})
        commuters: dict[int, uuid.UUID] = {}
        for rides in HISTORIES:
            handle = f"commuter{rides}"
            await conn.execute(sa.text(_USERS.replace("'u' || i", f"'{handle}'")), {"n": 1})
            await conn.execute(
                sa.text(_RIDES), {"n": rides, "cells": CELLS_PER_RIDE, "handles": handle, "users": 1}
            )
            await conn.execute(
                sa.text(_CELLS), {"handles": handle, "cells": cells, "per_ride": CELLS_PER_RIDE}
            )
            found = await conn.execute(sa.text("SELECT id FROM app_user WHERE handle = :h"), {"h": handle})
            commuters[rides] = found.scalar_one()
        await conn.execute(sa.text(_EXPLORED))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))
    return commuters


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> list[float]:
    for _ in range(5):
        await call()
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        took.append((time.perf_counter() - start) * 1e3)
    return sorted(took)


def figures(took: list[float]) -> tuple[float, float]:
    return statistics.median(took), took[min(len(took) - 1, int(0.95 * len(took)))]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    async with scratch_database() as engine:
        print(f"seeding {OTHER_RIDES:,} rides of {OTHERS:,} riders and commuters with {HISTORIES} rides ...")
        commuters = await seed(engine)
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session:
            for rides, user_id in commuters.items():
                params = {"user_id": user_id, "min_trip_m": 300.0}

                async def before(params: dict[str, object] = params) -> object:
                    return (await session.execute(_BEFORE, params)).scalar_one()

                async def stored(user_id: uuid.UUID = user_id) -> object:
                    return await stats.user_stats(session, user_id, EXPLORER, resolution=10, days=set())

                counted = await before()
                snapshot = await stats.user_stats(session, user_id, EXPLORER, resolution=10, days=set())
                base, new = figures(await timed(args.runs, before)), figures(await timed(args.runs, stored))
                print(
                    f"{rides:5d} rides, {counted} areas (stored: {snapshot.distinct_areas[8]}):"
                    f"  baseline {base[0]:7.2f} / {base[1]:7.2f} ms   stored {new[0]:6.2f} / {new[1]:6.2f} ms"
                    f"   ratio {new[0] / base[0]:.3f}"
                )


if __name__ == "__main__":
    asyncio.run(main())
