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
the transitions are stored per rider in ``cell_transition`` (k riders per
street), a ``GraphCache`` reads them back and builds (timed: DB read and
build), then ``find_route`` (cached graph, the search in a worker thread) and
the stamp check are timed on the same pairs. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import h3
import networkx as nx
import numpy as np
import sqlalchemy as sa
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.database import make_engine, make_sessionmaker, migrate, to_async_url
from domain.accounts.tables import User
from domain.routing.service import GraphCache, find_route
from geo.points import haversine_m
from geo.routing.graph import PROFILES, Profile, RoutingError, RoutingGraph
from geo.routing.search import compare, route, snap
from geo.simulator import MECHELEN, street_grid

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


async def through_service(url: str, agg: Aggregates, pairs: list[tuple[float, float, float, float]]) -> None:
    """Store the city's transitions; time the cache's build, the endpoint's search, the stamp check."""
    k = 5
    engine = make_engine(to_async_url(url))
    await migrate(engine)
    riders = [uuid.uuid4() for _ in range(k)]
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        for rider in riders:
            handle = f"bench-{rider.hex[:12]}"
            session.add(User(id=rider, handle=handle, handle_key=handle, password_hash="!", nickname=handle))  # noqa: S106
        await session.commit()
    day = datetime.now(UTC).date()
    pairs_ridden = {(min(a, b), max(a, b)) for a, b, _ in agg[0] if a != b}
    records = [
        (h3.str_to_int(a), h3.str_to_int(b), day, "bike", r, 1) for a, b in pairs_ridden for r in riders
    ]
    try:
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            columns = ["from_cell", "to_cell", "day", "mode", "user_id", "traversals"]
            await raw.copy_records_to_table("cell_transition", records=records, columns=columns)
        print(f"service: {len(records):,} cell_transition rows ({len(pairs_ridden):,} pairs x {k} riders)")
        cache = GraphCache(sessions, resolution=10, k=k, max_age_s=3600, check_s=3600, rebuild_rides=100)
        start = time.perf_counter()
        graph = await cache.refresh()
        took = time.perf_counter() - start
        assert graph is not None
        print(f"service: build through the cache (DB read, danger, build) {took:.2f} s: {len(graph.cells):,}")
        print(f"         cells (ridden cells + 2 rings), {graph.traversed_edges:,} ridden edges")
        searches, checks, outside = [], [], 0
        for p in pairs:
            begin = time.perf_counter()
            try:
                await find_route(cache, *p, "safest")
            except RoutingError:
                outside += 1  # a random point may lie beyond the ridden cells' margin
                continue
            searches.append(time.perf_counter() - begin)
        for _ in range(50):
            begin = time.perf_counter()
            await cache.stale()
            checks.append(time.perf_counter() - begin)
        print(f"service: {len(searches)} pairs routed, {outside} refused as outside the area")
        report("find_route(safest): cached graph, thread hop", searches)
        report("stamp check, pooled connection (each 30 s)", checks)
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.delete(User).where(col(User.id).in_(riders)))
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
