"""Streaming GeoJSON heatmap export against the floor of h3 boundaries plus ``json.dumps``.

Run: ``.venv/bin/python bench/heatmap.py [--cells 100000] [--repeat 3]``.

Cells around Mechelen (res 10, a ``grid_disk``) get danger-like values and go
through ``geo.export.geojson_cells`` into a null sink. The baseline, in the
same run, is the naive export of the same rows: ``h3.cell_to_boundary`` per
cell, a list of feature dicts, one ``json.dumps`` of the whole collection.
Target: ratio (baseline time / export time) >= 0.5, and a peak memory that
stays flat from 10k to 100k cells (the baseline's grows with the export).

Then the real path (skip it with ``--no-database``, at most ``--db-cells``):
per-user daily aggregates of one day in March 2026 are seeded with one
statement into a scratch database (``DATABASE_URL``, or an embedded server in
a temporary folder): blocks of 8 cells, each ridden by 40 consenting people.
``domain.planner.service.open_export`` runs twice per size: the first export
makes the month's differentially private release (bounded contributions in
SQL, OpenDP, the release stored and charged), the next ones serve it again
(read the stored release, danger score, audit row, GeoJSON). Both are timed
against a baseline of the same rows: the bare aggregate query fetched at once,
``h3.cell_to_boundary`` and one ``json.dumps``.

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
from privacy.release.rules import ReleasePolicy

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


PEOPLE_PER_BLOCK = 40
POLICY = ReleasePolicy(epsilon=10, max_cells=8, max_passes=8, resolution=10, budget_epsilon=1e9)
"""A policy whose threshold (12 people) 40 riders pass: the bench times the path, not the privacy."""
MARCH = {"since": datetime(2026, 3, 1, tzinfo=UTC), "until": datetime(2026, 3, 31, tzinfo=UTC)}
_SEED = """
WITH users AS (
  INSERT INTO app_user (id, handle, handle_key, password_hash, role, nickname, privacy_seed, created_at)
  SELECT gen_random_uuid(), 'bench' || i, 'bench' || i, 'x', 'citizen', 'bench' || i, '\\x00', now()
  FROM generate_series(0, :people - 1) AS i RETURNING id, CAST(substr(handle, 6) AS int) AS i
), consents AS (
  INSERT INTO consent_record (id, user_id, purpose, granted, policy_version, recorded_at, given_by)
  SELECT gen_random_uuid(), id, 'research_sharing', true, '2026-01', now(), 'self' FROM users
)
INSERT INTO cell_exposure (cell, day, mode, user_id, rides)
SELECT c.cell, DATE '2026-03-15', 'bike', u.id, 1 + (c.cell % 7)::int
FROM unnest(CAST(:cells AS bigint[])) WITH ORDINALITY AS c(cell, ord)
JOIN users u ON (c.ord - 1) / 8 = u.i / :per_block
"""
_BARE = """
SELECT cell, sum(rides)::int, count(DISTINCT user_id)::int FROM cell_exposure GROUP BY cell ORDER BY cell
"""


async def seed(engine: AsyncEngine, cells: list[str]) -> None:
    people = (len(cells) + 7) // 8 * PEOPLE_PER_BLOCK
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "TRUNCATE cell_exposure, consent_record, export_audit, privacy_release, privacy_ledger,"
                " app_user CASCADE"
            )
        )
        params = {"people": people, "per_block": PEOPLE_PER_BLOCK, "cells": [h3.str_to_int(c) for c in cells]}
        await conn.execute(sa.text(_SEED), params)
        await conn.execute(sa.text("ANALYZE cell_exposure"))


async def forget_release(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("TRUNCATE privacy_release, privacy_ledger CASCADE"))


async def db_export(engine: AsyncEngine) -> int:
    """The service path, as the API and the CLI run it, into a null sink."""
    now = datetime.now(UTC)
    query = build_query(ExportKind.HEATMAP, today=now.date(), metric="danger", resolution=10, **MARCH)
    opened = await open_export(
        make_sessionmaker(engine), query, actor=Actor(None, "cli"), policy=POLICY, now=now
    )
    return sum([len(chunk) async for chunk in opened.chunks])


async def db_first_export(engine: AsyncEngine) -> int:
    await forget_release(engine)
    return await db_export(engine)


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


async def database_path(all_rows: list[tuple[str, Props]], repeat: int, limit: int) -> None:
    print(f"\nreal path: aggregates ({PEOPLE_PER_BLOCK} people per block of 8 cells) -> release -> GeoJSON")
    async with scratch_database() as engine:
        for n in sizes(min(len(all_rows), limit)):
            await seed(engine, [cell for cell, _ in all_rows[:n]])
            await db_first_export(engine)  # warm the plan and caches
            first_s = await abest_of(repeat, partial(db_first_export, engine))
            again_s = await abest_of(repeat, partial(db_export, engine))
            base_s = await abest_of(repeat, partial(db_baseline, engine))
            first_mib = await apeak_mib(partial(db_first_export, engine))
            again_mib = await apeak_mib(partial(db_export, engine))
            base_mib = await apeak_mib(partial(db_baseline, engine))
            out_mib = await db_export(engine) / 2**20
            print(f"\n{n:,} cells, {out_mib:.1f} MiB of GeoJSON, best of {repeat}")
            report("service: make the release", n, first_s, first_mib)
            report("service: serve it again", n, again_s, again_mib)
            report("baseline query+dumps", n, base_s, base_mib)
            print(f"  ratio baseline / first: {base_s / first_s:.2f}, / served again: {base_s / again_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-database", action="store_true", help="only the pure encoder comparison")
    parser.add_argument("--db-cells", type=int, default=20_000, help="cells of the database path, at most")
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
        asyncio.run(database_path(all_rows, args.repeat, args.db_cells))


if __name__ == "__main__":
    main()
