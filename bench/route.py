"""Latency of geo.routing's search on a simulated city, against networkx's A* on the same graph.

Run: ``.venv/bin/python bench/route.py [--radius 130] [--pairs 200] [--seed 1]``.
The city is an H3 grid disk around Mechelen (radius 130 at res 10: 51,091
cells, the service area, all neighbours joined by fallback edges) with a
jittered street grid 200 m apart, 70 % of whose streets were "ridden" (their
cells' transitions are the traversed edges); 15 % of the cells get a high
danger score, 1 % open confirmed hazards. Random origin/destination pairs go
through ``route()`` per profile and through ``compare()`` (what the endpoint
calls), then through ``networkx.astar_path`` with a haversine heuristic on the
same weights. Targets: search p95 < 50 ms, >= 10x faster than networkx.

With ``--db URL`` (a scratch PostgreSQL database: it is migrated, filled and
emptied again) the city also goes through the service as the endpoint uses it:
its ridden cells are stored in ``cell_exposure`` in the last closed month, per
block (a cell at the release's resolution, 8) by as many consenting riders as the
app's default release policy needs to show it, a ``GraphCache`` releases them and
builds (timed: release, DB read and build), then ``find_route`` (cached graph,
the search in a worker thread) and the stamp check are timed on the same pairs.
About 190 riders a block: the default radius writes millions of rows (minutes);
``--radius 20 --pairs 20`` is a quick run. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h3
import networkx as nx
import numpy as np
import sqlalchemy as sa
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.database import make_engine, make_sessionmaker, migrate, to_async_url
from domain.accounts.tables import User
from domain.core.enums import ConsentGiver, ConsentPurpose
from domain.routing.service import GraphCache, find_route
from geo.points import haversine_m
from geo.routing.graph import PROFILES, Profile, RoutingError, RoutingGraph
from geo.routing.search import compare, route, snap
from geo.simulator import MECHELEN, street_grid
from privacy.release.mechanism import calibrate
from privacy.release.rules import ReleasePolicy, last_closed_month
from privacy.release.tables import PrivacyRelease

Aggregates = tuple[list[tuple[str, str, int]], dict[str, float], dict[str, int], list[str]]


def simulate_city(radius: int, seed: int) -> Aggregates:
    """Transitions, danger, hazards and the service area of a synthetic city."""
    rng = random.Random(seed)
    area = h3.grid_disk(h3.latlng_to_cell(*MECHELEN, 10), radius)
    inside = set(area)
    span_m = 2 * radius * 115.0
    spacing = 200.0
    grid = street_grid(seed, size=int(span_m / spacing) + 1, spacing_m=spacing, jitter_m=40.0)
    junction = [h3.latlng_to_cell(lat, lon, 10) for lat, lon in grid.nodes]
    transitions: list[tuple[str, str, int]] = []
    for i in range(grid.size):
        for j in range(grid.size):
            a = junction[i * grid.size + j]
            for b in (
                junction[(i + 1) * grid.size + j] if i + 1 < grid.size else None,
                junction[i * grid.size + j + 1] if j + 1 < grid.size else None,
            ):
                if b is None or rng.random() > 0.7 or a not in inside or b not in inside:
                    continue
                street = h3.grid_path_cells(a, b)
                rides = rng.randint(1, 40)
                transitions += [(x, y, rides) for x, y in itertools.pairwise(street)]
    danger = {c: rng.uniform(30, 100) if rng.random() < 0.15 else rng.uniform(0, 15) for c in area}
    hazards = {c: rng.randint(1, 3) for c in area if rng.random() < 0.01}
    return transitions, danger, hazards, area


def build(agg: Aggregates) -> RoutingGraph:
    transitions, danger, hazards, area = agg
    return RoutingGraph.build(
        transitions, danger, hazards, service_area_cells=area, version="bench", built_at=datetime.now(UTC)
    )


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def report(label: str, samples: list[float]) -> None:
    p50, p95 = np.percentile(np.asarray(samples) * 1e3, [50, 95])
    print(f"{label:48} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms")


def to_networkx(graph: RoutingGraph, profile: Profile) -> nx.Graph:
    g = nx.Graph()
    w = graph.weights[profile]
    for k in np.flatnonzero(graph.entry_row < graph.indices).tolist():
        g.add_edge(int(graph.entry_row[k]), int(graph.indices[k]), weight=float(w[k]))
    return g


def blocks_of(agg: Aggregates, resolution: int) -> dict[str, list[str]]:
    """The ridden cells of the city grouped by their parent at the release's resolution."""
    ridden = {c for a, b, _ in agg[0] for c in (a, b)}
    blocks: dict[str, list[str]] = {}
    for cell in sorted(ridden):
        blocks.setdefault(h3.cell_to_parent(cell, resolution), []).append(cell)
    return blocks


async def through_service(url: str, agg: Aggregates, pairs: list[tuple[float, float, float, float]]) -> None:
    """Store the city's riding; time the cache's build (release included), the search, the stamp check.

    The cache builds from the last closed month's release (privacy.release) under the app's default
    policy (the budget lifted: a bench may rebuild), so every block (the release's cell) gets
    enough consenting riders to pass the release's threshold with six sigma to spare, each riding
    the block's ridden cells once on one day of that month.
    """
    policy = ReleasePolicy(budget_epsilon=1e9)
    calibration = calibrate(policy.params())
    per_block = math.ceil(calibration.threshold + 6 * calibration.contributors_scale)
    blocks = blocks_of(agg, policy.resolution)
    now = datetime.now(UTC)
    window = last_closed_month(now.date())
    engine = make_engine(to_async_url(url))
    await migrate(engine)
    async with engine.connect() as conn:
        released = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(PrivacyRelease)
            .where(col(PrivacyRelease.first_day) == window.first)
        )
    if released:
        await engine.dispose()
        sys.exit(f"{window.first:%Y-%m} is already released in this database: give a scratch database")
    riders = [(uuid.uuid4(), block) for block in blocks for _ in range(per_block)]
    users = [
        (
            rider,
            f"bench-{rider.hex[:12]}",
            f"bench-{rider.hex[:24]}",
            "!",
            "citizen",
            f"bench-{rider.hex[:12]}",
            os.urandom(32),
            now,
        )
        for rider, _ in riders
    ]
    consents = [
        (
            uuid.uuid4(),
            rider,
            ConsentPurpose.RESEARCH_SHARING.value,
            True,
            "bench",
            now,
            ConsentGiver.SELF.value,
        )
        for rider, _ in riders
    ]
    day = window.first + timedelta(days=14)
    exposure = [(h3.str_to_int(c), day, "bike", rider, 1) for rider, block in riders for c in blocks[block]]
    started = datetime.now(UTC)
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            user_columns = [
                "id",
                "handle",
                "handle_key",
                "password_hash",
                "role",
                "nickname",
                "privacy_seed",
                "created_at",
            ]
            await raw.copy_records_to_table("app_user", records=users, columns=user_columns)
            consent_columns = [
                "id",
                "user_id",
                "purpose",
                "granted",
                "policy_version",
                "recorded_at",
                "given_by",
            ]
            await raw.copy_records_to_table("consent_record", records=consents, columns=consent_columns)
            await raw.copy_records_to_table(
                "cell_exposure", records=exposure, columns=["cell", "day", "mode", "user_id", "rides"]
            )
        print(
            f"service: {len(exposure):,} cell_exposure rows on {day}: {len(blocks):,} blocks (res "
            f"{policy.resolution}) x {per_block} consenting riders (threshold {calibration.threshold})"
        )
        cache = GraphCache(
            make_sessionmaker(engine), resolution=10, policy=policy, max_age_s=3600, check_s=3600
        )
        start = time.perf_counter()
        graph = await cache.refresh()
        took = time.perf_counter() - start
        assert graph is not None
        print(f"service: build through the cache (release, DB read, danger, build) {took:.2f} s:")
        print(
            f"         {len(graph.cells):,} cells (released cells + 2 rings), {graph.traversed_edges:,} edges"
        )
        searches, checks, outside = [], [], 0
        for p in pairs:
            begin = time.perf_counter()
            try:
                await find_route(cache, *p, "safest")
            except RoutingError:
                outside += 1  # a random point may lie beyond the released cells' margin
                continue
            searches.append(time.perf_counter() - begin)
        for _ in range(50):
            begin = time.perf_counter()
            await cache.stale()
            checks.append(time.perf_counter() - begin)
        print(f"service: {len(searches)} pairs routed, {outside} refused as outside the area")
        if searches:
            report("find_route(safest): cached graph, thread hop", searches)
        report("stamp check, pooled connection (each 30 s)", checks)
        await cache.aclose()
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.delete(PrivacyRelease).where(col(PrivacyRelease.created_at) >= started))
            await conn.execute(sa.delete(User).where(col(User.id).in_([r for r, _ in riders])))
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--radius", type=int, default=130)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--nx-profile", choices=PROFILES, default="safest")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="a scratch PostgreSQL database URL: also time the service path")
    args = parser.parse_args()

    agg = simulate_city(args.radius, args.seed)
    build_s = min(timed(lambda: build(agg)) for _ in range(2))
    tracemalloc.start()
    graph = build(agg)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"graph: {len(graph.cells):,} cells, {graph.traversed_edges:,} traversed + "
        f"{graph.fallback_edges:,} fallback edges"
    )
    print(f"build: {build_s * 1e3:.0f} ms (best of 2), peak traced memory {peak / 2**20:.1f} MiB,")
    print(f"       arrays kept {graph.nbytes / 2**20:.1f} MiB (+ cell strings and index)")

    rng = random.Random(args.seed + 1)
    picks = rng.sample(range(len(graph.cells)), 2 * args.pairs)
    points = [(float(graph.lat[i]), float(graph.lon[i])) for i in picks]
    pairs = [(*points[2 * k], *points[2 * k + 1]) for k in range(args.pairs)]
    km = [haversine_m(*p) / 1e3 for p in pairs]
    print(
        f"pairs: {len(pairs)} random, straight-line p50 {statistics.median(km):.1f} km, max {max(km):.1f} km"
    )
    route(graph, *pairs[0], "safest")  # warm imports

    ours: dict[Profile, list[float]] = {p: [] for p in PROFILES}
    costs: list[float] = []
    for profile in PROFILES:
        for p in pairs:
            start = time.perf_counter()
            result = route(graph, *p, profile)
            ours[profile].append(time.perf_counter() - start)
            if profile == args.nx_profile:
                costs.append(result.cost)
        report(f"route({profile})", ours[profile])
    endpoint = []
    for p in pairs:
        start = time.perf_counter()
        compare(graph, *p, "safest")
        endpoint.append(time.perf_counter() - start)
    report("compare(safest), the endpoint's two searches", endpoint)

    g = to_networkx(graph, args.nx_profile)
    lat, lon = graph.lat.tolist(), graph.lon.tolist()
    theirs: list[float] = []
    worst = 0.0
    for (flat, flon, tlat, tlon), ours_cost in zip(pairs, costs, strict=True):
        s, t = snap(graph, flat, flon, field="from"), snap(graph, tlat, tlon, field="to")
        start = time.perf_counter()
        path = nx.astar_path(g, s, t, heuristic=lambda a, b: haversine_m(lat[a], lon[a], lat[b], lon[b]))
        theirs.append(time.perf_counter() - start)
        cost = nx.path_weight(g, path, "weight")
        worst = max(worst, abs(cost - ours_cost) / max(cost, 1.0))
    report(f"networkx astar_path({args.nx_profile}), search only", theirs)
    print(f"ratio networkx / ours (total time, same pairs): {sum(theirs) / sum(ours[args.nx_profile]):.1f}x")
    print(f"largest relative cost difference vs networkx: {worst:.2e}")
    if args.db:
        asyncio.run(through_service(args.db, agg, pairs))


if __name__ == "__main__":
    main()
