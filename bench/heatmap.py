"""Streaming GeoJSON heatmap export against the floor of h3 boundaries plus ``json.dumps``.

Run: ``.venv/bin/python bench/heatmap.py [--cells 100000] [--repeat 3]``.

Cells around Mechelen (res 10, a ``grid_disk``) get danger-like values and go
through ``geo.export.geojson_cells`` into a null sink. The baseline, in the
same run, is the naive export of the same rows: ``h3.cell_to_boundary`` per
cell, a list of feature dicts, one ``json.dumps`` of the whole collection.
Target: ratio (baseline time / export time) >= 0.5, and a peak memory that
stays flat from 10k to 100k cells (the baseline's grows with the export).

Then the real path (skip it with ``--no-database``): the same number of cells
of per-user daily aggregates (5 consenting contributors each) are seeded with
one ``INSERT … SELECT unnest`` into a scratch database (``DATABASE_URL``, or an
embedded server in a temporary folder), and ``domain.planner.service.open_export``
(audit row, consent join, k rule, server-side cursor, danger score, streaming
GeoJSON) is timed against a baseline of the same rows: the bare aggregate
query fetched at once, ``h3.cell_to_boundary`` and one ``json.dumps``.

Prints figures only; times are best-of-R without tracemalloc, memory is
measured in a separate pass.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.database import make_sessionmaker
from bench.pipeline import best_of
from bench.scratch import scratch_database
from domain.planner.rules import ExportKind, build_query
from domain.planner.service import Actor, open_export
from geo.export import geojson_cells

Props = dict[str, float | int]
MECHELEN = (51.03, 4.48)


def synthesise(n: int) -> list[tuple[str, Props]]:
    centre = h3.latlng_to_cell(*MECHELEN, 10)
    k = 1
    while 3 * k * (k + 1) + 1 < n:
        k += 1
    cells = sorted(h3.grid_disk(centre, k))[:n]
    return [
        (c, {"danger": round((i * 37) % 1000 / 10, 1), "rides": i % 500, "contributors": 5 + i % 40})
        for i, c in enumerate(cells)
    ]


def export_streaming(rows: list[tuple[str, Props]]) -> int:
    size = 0
    for chunk in geojson_cells(iter(rows)):
        size += len(chunk)
    return size


def export_baseline(rows: list[tuple[str, Props]]) -> int:
    features = []
    for cell, props in rows:
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"h3": cell, **props},
            }
        )
    return len(json.dumps({"type": "FeatureCollection", "features": features}).encode())


def peak_mib(work: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def report(name: str, n: int, seconds: float, mib: float) -> None:
    print(f"  {name:<24} {seconds * 1e3:8.0f} ms  {n / seconds:10,.0f} cells/s  peak {mib:7.2f} MiB")


def sizes(total: int) -> Iterator[int]:
    yield from sorted({min(10_000, total), total})


K = 5
_SEED = """
WITH users AS (
  INSERT INTO app_user (id, handle, handle_key, password_hash, role, nickname, privacy_seed, created_at)
  SELECT gen_random_uuid(), 'bench' || i, 'bench' || i, 'x', 'citizen', 'bench' || i, '\\x00', now()
  FROM generate_series(1, :people) AS i RETURNING id
), consents AS (
  INSERT INTO consent_record (id, user_id, purpose, granted, policy_version, recorded_at, given_by)
  SELECT gen_random_uuid(), id, 'research_sharing', true, '2026-01', now(), 'self' FROM users
)
INSERT INTO cell_exposure (cell, day, mode, user_id, rides)
SELECT c, current_date, 'bike', u.id, 1 + (c % 7)::int
FROM unnest(CAST(:cells AS bigint[])) AS c CROSS JOIN users u
"""
_BARE = """
SELECT cell, sum(rides)::int, count(DISTINCT user_id)::int FROM cell_exposure GROUP BY cell ORDER BY cell
"""


async def seed(engine: AsyncEngine, cells: list[str]) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("TRUNCATE cell_exposure, consent_record, export_audit, app_user CASCADE"))
        await conn.execute(sa.text(_SEED), {"people": K, "cells": [h3.str_to_int(c) for c in cells]})
        await conn.execute(sa.text("ANALYZE cell_exposure"))


async def db_export(engine: AsyncEngine) -> int:
    """The service path, as the API and the CLI run it, into a null sink."""
    query = build_query(ExportKind.HEATMAP, metric="danger")
    chunks = await open_export(
        make_sessionmaker(engine), query, actor=Actor(None, "cli"), k=K, now=datetime.now(UTC)
    )
    return sum([len(chunk) async for chunk in chunks])


async def db_baseline(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(_BARE))).all()
    features = []
    for cell_int, rides, people in rows:
        cell = h3.int_to_str(cell_int)
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
        ring.append(ring[0])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"h3": cell, "rides": rides, "contributors": people},
            }
        )
    return len(json.dumps({"type": "FeatureCollection", "features": features}).encode())


async def abest_of(repeat: int, work: Callable[[], Awaitable[object]]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        await work()
        best = min(best, time.perf_counter() - start)
    return best


async def apeak_mib(work: Callable[[], Awaitable[object]]) -> float:
    tracemalloc.start()
    try:
        await work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


async def database_path(all_rows: list[tuple[str, Props]], repeat: int) -> None:
    print(f"\nreal path: PostgreSQL aggregates ({K} consenting contributors per cell) -> streamed GeoJSON")
    async with scratch_database() as engine:
        for n in sizes(len(all_rows)):
            await seed(engine, [cell for cell, _ in all_rows[:n]])
            await db_export(engine)  # warm the plan and caches
            export_s = await abest_of(repeat, partial(db_export, engine))
            base_s = await abest_of(repeat, partial(db_baseline, engine))
            export_mib = await apeak_mib(partial(db_export, engine))
            base_mib = await apeak_mib(partial(db_baseline, engine))
            out_mib = await db_export(engine) / 2**20
            print(f"\n{n:,} cells, {out_mib:.1f} MiB of GeoJSON, best of {repeat}")
            report("service open_export", n, export_s, export_mib)
            report("baseline query+dumps", n, base_s, base_mib)
            print(f"  ratio (baseline / service time): {base_s / export_s:.2f}   (target >= 0.5)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-database", action="store_true", help="only the pure encoder comparison")
    args = parser.parse_args()

    all_rows = synthesise(args.cells)
    export_streaming(all_rows[:1000])  # warm imports and caches
    print(f"cells (res 10 around Mechelen): {len(all_rows):,}")
    for n in sizes(len(all_rows)):
        rows = all_rows[:n]
        stream_s, base_s = best_of(
            args.repeat, partial(export_streaming, rows), partial(export_baseline, rows)
        )
        stream_mib = peak_mib(partial(export_streaming, rows))
        base_mib = peak_mib(partial(export_baseline, rows))
        out_mib = export_streaming(rows) / 2**20
        print(f"\n{n:,} cells, {out_mib:.1f} MiB of GeoJSON, best of {args.repeat}")
        report("streaming geojson_cells", n, stream_s, stream_mib)
        report("baseline json.dumps", n, base_s, base_mib)
        print(f"  ratio (baseline / streaming time): {base_s / stream_s:.2f}   (target >= 0.5)")
    if not args.no_database:
        asyncio.run(database_path(all_rows, args.repeat))


if __name__ == "__main__":
    main()
