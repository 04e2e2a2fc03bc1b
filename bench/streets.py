"""Street routing against its peers, in one run, on the same graph and weights; and the import's cost.

Run: ``.venv/bin/python bench/streets.py [--server postgresql://postgres@127.0.0.1:5432/postgres]
[--grid 160] [--pairs 100] [--seed 1] [--import-only] [--country] [--extra-nodes 0]``.

Two networks go through ``saferoutes streets import`` (a subprocess, so its time and
peak memory are its own): a synthetic city written as an .osm.pbf (a jittered
``grid`` x ``grid`` street grid 90 m apart, about 50k segments for 160: every 8th
street a 50 km/h secondary road with a cycle track, a painted lane or nothing,
every 8th+4 a 50 km/h tertiary road, the rest 30 km/h residential streets, a third
of them one-way, half of those open to cyclists both ways, some footways), and the
Helsinki extract the demo city rides (domain/demo). Each network is loaded back from the database
and built into the worker's street graph (danger: a random 0-80 score on a third
of the cells, the safest profile's weights). Then the same random junction pairs
(both in the main strongly connected part) are routed by:

- this service's search (``geo.streets.search.search``: A*, compiled Dijkstra on
  reduced costs), and ``compare`` (snap, the profile's and the shortest route,
  steps: what the endpoint runs);
- networkx ``single_source_dijkstra`` (the baseline: ratios are against it);
- pgRouting ``pgr_dijkstra`` and ``pgr_aStar`` on the same directed edges and costs,
  in a database the bench creates (``CREATE EXTENSION pgrouting``) and drops; skipped
  with a message if the extension is missing.

Each engine's route cost is checked against networkx's (relative 1e-6). Prints
p50/p95 ms per route and the ratio of each p50 to the baseline's. No assertion on time.

``--import-only`` measures the costs only, on the synthetic grid alone: the import
(time, peak memory, pbf size) and the worker's build, step by step, with the memory
the worker keeps (the process's resident set growth while the segments, their cells
and the graph are held, as ``domain.routing.service`` holds them) and per segment.
``--country`` is ``--import-only --grid 1225``: 2 x 1225 x 1224 = 2,998,800 segments, a
stand-in for Belgium's network (docs/streets.md says why that many). ``--extra-nodes N``
adds N nodes on no way to the pbf, to measure what a real extract's other data (buildings,
addresses) costs the import's node location index.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import h3
import networkx as nx
import numpy as np
import osmium
import osmium.osm.mutable as mutable
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.database import make_engine, make_sessionmaker
from domain.routing.rules import Stamp
from domain.routing.store import GraphInputs
from domain.routing.streets import SegmentCells, build_street_graph, segment_cells
from domain.streets.store import Segments, active_network, load_segments
from geo.streets.graph import StreetGraph, local_xy
from geo.streets.route import compare
from geo.streets.search import Snap, search

ROOT = Path(__file__).resolve().parents[1]
HELSINKI = ROOT / "domain" / "demo" / "helsinki.osm.pbf"
CENTRE = (51.0259, 4.4776)
PROFILE = "safest"


def write_grid_city(path: Path, size: int, seed: int, extra_nodes: int = 0) -> None:
    """A jittered street grid with realistic tags as an .osm.pbf (ways of 8 blocks, cut at every crossing).

    ``extra_nodes`` untagged nodes on no way, scattered over the grid with ids 150 apart (as
    sparse as a country extract's): what the buildings and land use of a real extract cost the
    import's node location index.
    """
    rng = random.Random(seed)
    step_lat = 90.0 / 111_195.0
    step_lon = step_lat / math.cos(math.radians(CENTRE[0]))
    node_id = lambda i, j: 1 + i * size + j  # noqa: E731
    with osmium.SimpleWriter(str(path)) as writer:
        for i in range(size):
            for j in range(size):
                lat = CENTRE[0] + (i - size / 2) * step_lat + rng.uniform(-0.1, 0.1) * step_lat
                lon = CENTRE[1] + (j - size / 2) * step_lon + rng.uniform(-0.1, 0.1) * step_lon
                writer.add_node(mutable.Node(id=node_id(i, j), location=(lon, lat)))
        half_lat, half_lon = size / 2 * step_lat, size / 2 * step_lon
        for k in range(extra_nodes):
            lat = CENTRE[0] + rng.uniform(-half_lat, half_lat)
            lon = CENTRE[1] + rng.uniform(-half_lon, half_lon)
            writer.add_node(mutable.Node(id=size * size + 150 * (k + 1), location=(lon, lat)))
        way = 0
        for horizontal in (True, False):
            for line in range(size):
                tags = _street_tags(line, rng)
                for start in range(0, size - 1, 8):
                    refs = [
                        node_id(line, k) if horizontal else node_id(k, line)
                        for k in range(start, min(start + 9, size))
                    ]
                    way += 1
                    writer.add_way(mutable.Way(id=way, nodes=refs, tags=tags))


def _street_tags(line: int, rng: random.Random) -> dict[str, str]:
    if line % 8 == 0:
        extra = rng.choice([{"cycleway:both": "track"}, {"cycleway": "lane"}, {}])
        return {"highway": "secondary", "maxspeed": "50", "name": f"Main Road {line}", **extra}
    if line % 8 == 4:
        extra = rng.choice([{"cycleway": "lane"}, {}])
        return {"highway": "tertiary", "maxspeed": "50", "name": f"Avenue {line}", **extra}
    if line % 23 == 5:
        return {"highway": "footway", "name": f"Footpath {line}"}
    tags = {"highway": "residential", "maxspeed": "30", "name": f"Street {line}"}
    if line % 3 == 1:
        tags["oneway"] = "yes" if line % 2 else "-1"
        if line % 6 == 1:
            tags["oneway:bicycle"] = "no"
    return tags


def run_import(url: str, pbf: Path) -> tuple[float, float, str]:
    """``saferoutes streets import`` in a subprocess: wall seconds, peak MiB, its summary line."""
    env = {**os.environ, "DATABASE_URL": url, "SAFEROUTES_SECRET_KEY": "bench-" + "x" * 40}
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [str(Path(sys.executable).parent / "saferoutes"), "streets", "import", str(pbf)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the import failed after {seconds:.0f} s:\n{done.stderr[-3000:]}")
    peak = re.search(r"peak memory (\d+) MiB", done.stdout)
    return seconds, float(peak[1]) if peak else float("nan"), done.stdout.strip()


async def read_segments(url: str, out: list[Segments]) -> None:
    """Into ``out``, not returned: on Python 3.11 ``asyncio.run`` reprs its task's result when it
    restores the SIGINT handler, and the repr of millions of arrays takes longer than reading them."""
    # no statement timeout (the service's is 30 s): the read's time is a figure to report
    engine = make_engine(url, null_pool=True, command_timeout=None)
    try:
        async with make_sessionmaker(engine)() as session:
            info = await active_network(session)
            assert info is not None
            out.append(await load_segments(session, info))
    finally:
        await engine.dispose()


def rss_mib() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 2**20


def load_graph(url: str, seed: int) -> tuple[StreetGraph, SegmentCells, list[tuple[str, float, float]]]:
    """The network as the worker builds it (random released danger on a third of the cells).

    Returns the graph, the cells (the worker keeps both) and per step: its name, seconds and
    the resident MiB the process holds after it (garbage collected), the first row the baseline.
    """
    steps = [("before", 0.0, rss_mib())]
    started = time.perf_counter()
    held: list[Segments] = []
    asyncio.run(read_segments(url, held))
    segments = held.pop()
    steps.append(("read segments", time.perf_counter() - started, rss_mib()))
    started = time.perf_counter()
    network = segment_cells(segments, 10)
    steps.append(("cells per segment", time.perf_counter() - started, rss_mib()))
    started = time.perf_counter()
    rng = random.Random(seed)
    cells = {c for per in network.cells for c in per}
    danger = {h3.int_to_str(c): rng.uniform(0, 80) for c in sorted(cells) if rng.random() < 0.33}
    inputs = GraphInputs(Stamp(0, None, date(2026, 11, 1), segments.network.id), [], danger, {})
    del cells
    graph = build_street_graph(inputs, network)
    del inputs, danger
    steps.append(("weights + graph", time.perf_counter() - started, rss_mib()))
    return graph, network, steps


def held_bytes(root: object, seen: set[int]) -> int:
    """``sys.getsizeof`` of every object reachable from ``root`` and not in ``seen`` (added to it):
    Python's view, so GEOS's own memory (the STRtree's lines) is left out."""
    total, todo = 0, [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        todo.extend(gc.get_referents(obj))
    return total


def held_lines(graph: StreetGraph, network: SegmentCells) -> list[str]:
    n, seen = graph.segment_count, set[int]()
    parts = [
        ("the segments (domain.streets.store.Segments)", network.segments),
        ("their cells (SegmentCells.cells)", network.cells),
        ("the graph, beyond the two (StreetGraph)", graph),
    ]
    lines = ["  live Python objects (sys.getsizeof, each object once):"]
    for label, root in parts:
        size = held_bytes(root, seen)
        lines.append(f"  - {label}: {size / 2**20:.0f} MiB, {size / n:.0f} bytes per segment")
    return lines


def memory_lines(graph: StreetGraph, steps: list[tuple[str, float, float]]) -> list[str]:
    n = graph.segment_count
    base = steps[0][2]
    lines = [
        "  worker build (the worker holds the segments, their cells and the graph):",
        "  | step | s | resident MiB after | growth MiB | bytes per segment |",
        "  |---|---|---|---|---|",
    ]
    prev = base
    for name, seconds, rss in steps[1:]:
        lines.append(
            f"  | {name} | {seconds:.1f} | {rss:.0f} | {rss - prev:+.0f} | {(rss - prev) * 2**20 / n:.0f} |"
        )
        prev = rss
    total_s = sum(s for _, s, _ in steps)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    lines.append(
        f"  | total | {total_s:.1f} | {prev:.0f} | {prev - base:+.0f} | {(prev - base) * 2**20 / n:.0f} |"
    )
    lines.append(f"  process peak RSS {peak:.0f} MiB (baseline {base:.0f} MiB)")
    return lines


def junction_pairs(graph: StreetGraph, count: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    segs = graph.tree_segments
    nodes = sorted({int(graph.seg_from[s]) for s in segs})
    return [(rng.choice(nodes), rng.choice(nodes)) for _ in range(count)]


def at_node(graph: StreetGraph, node: int) -> Snap:
    """A snap exactly on a junction: fraction 0 of a snappable segment leaving it."""
    s = int(graph.tree_segments[np.flatnonzero(graph.seg_from[graph.tree_segments] == node)[0]])
    return Snap(s, 0.0, float(graph.node_lat[node]), float(graph.node_lon[node]), 0.0)


def nx_graph(graph: StreetGraph) -> nx.DiGraph:
    g = nx.DiGraph()
    weights = graph.weights[PROFILE]
    for u in range(graph.node_count):
        for k in range(int(graph.indptr[u]), int(graph.indptr[u + 1])):
            g.add_edge(u, int(graph.indices[k]), weight=float(weights[k]))
    return g


def timed(fn: Callable[[int, int], float], pairs: list[tuple[int, int]]) -> tuple[list[float], list[float]]:
    times, costs = [], []
    for u, v in pairs:
        started = time.perf_counter()
        costs.append(fn(u, v))
        times.append((time.perf_counter() - started) * 1000)
    return times, costs


async def pgrouting(server: str, graph: StreetGraph, pairs: list[tuple[int, int]]) -> dict[str, Any]:
    """pgr_dijkstra and pgr_aStar on the same directed edges; {} (and a message) without pgRouting."""
    name = f"bench_streets_{os.getpid()}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    out: dict[str, Any] = {}
    try:
        conn = await asyncpg.connect(server.rsplit("/", 1)[0] + "/" + name)
        try:
            try:
                await conn.execute("CREATE EXTENSION pgrouting CASCADE")
            except asyncpg.PostgresError as exc:
                print(f"pgRouting skipped: the extension is missing here ({exc})")
                return {}
            await conn.execute(
                "CREATE TABLE edges (id bigint PRIMARY KEY, source bigint, target bigint, cost float8, "
                "reverse_cost float8, x1 float8, y1 float8, x2 float8, y2 float8)"
            )
            # A* coordinates: local metres scaled by the profile's least cost per metre (and 0.99 for the
            # plane's error), so pgRouting's Euclidean heuristic is admissible as ours is
            scale = graph.min_rate[PROFILE] * 0.99
            x, y = local_xy(graph.node_lon, graph.node_lat, graph.ref_lat)
            x, y = x * scale, y * scale
            rows = []
            weights = graph.weights[PROFILE]
            for u in range(graph.node_count):
                for k in range(int(graph.indptr[u]), int(graph.indptr[u + 1])):
                    v = int(graph.indices[k])
                    rows.append((k + 1, u, v, float(weights[k]), -1.0, x[u], y[u], x[v], y[v]))
            await conn.copy_records_to_table("edges", records=rows)
            await conn.execute(
                "CREATE INDEX ON edges (source); CREATE INDEX ON edges (target); ANALYZE edges"
            )
            queries = {
                "pgr_dijkstra": "SELECT coalesce(max(agg_cost), 'Infinity') FROM pgr_dijkstra("
                "'SELECT id, source, target, cost, reverse_cost FROM edges', $1::bigint, $2::bigint, true)",
                "pgr_aStar": "SELECT coalesce(max(agg_cost), 'Infinity') FROM pgr_aStar("
                "'SELECT id, source, target, cost, reverse_cost, x1, y1, x2, y2 FROM edges', $1::bigint, "
                "$2::bigint, true, heuristic := 4)",
            }
            for label, sql in queries.items():
                statement = await conn.prepare(sql)
                times, costs = [], []
                for u, v in pairs:
                    started = time.perf_counter()
                    cost = 0.0 if u == v else float(await statement.fetchval(u, v))
                    times.append((time.perf_counter() - started) * 1000)
                    costs.append(cost)
                out[label] = (times, costs)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_network(label: str, server: str, graph: StreetGraph, pairs_n: int, seed: int) -> list[str]:
    pairs = junction_pairs(graph, pairs_n, seed)
    g = nx_graph(graph)

    def ours(u: int, v: int) -> float:
        return search(graph, at_node(graph, u), at_node(graph, v), PROFILE)[0]

    def ours_compare(u: int, v: int) -> float:
        a, b = at_node(graph, u), at_node(graph, v)
        return compare(graph, a.lat, a.lon, b.lat, b.lon, PROFILE).route.cost

    def networkx(u: int, v: int) -> float:
        try:
            return float(nx.single_source_dijkstra(g, u, v, weight="weight")[0])
        except nx.NetworkXNoPath:
            return math.inf

    results: dict[str, tuple[list[float], list[float]]] = {
        "networkx dijkstra (baseline)": timed(networkx, pairs),
        "this service: A* search": timed(ours, pairs),
        "this service: compare (endpoint)": timed(ours_compare, pairs),
    }
    results.update(asyncio.run(pgrouting(server, graph, pairs)))
    base_costs = results["networkx dijkstra (baseline)"][1]
    base_p50 = statistics.median(results["networkx dijkstra (baseline)"][0])
    lines = [
        f"\n{label}: {graph.segment_count} segments, {graph.node_count} junctions, {len(graph.indices)} "
        f"directed edges, {len(pairs)} junction pairs, profile {PROFILE}",
        "| engine | p50 ms | p95 ms | p50 vs networkx | costs identical |",
        "|---|---|---|---|---|",
    ]
    for name, (times, costs) in results.items():
        if name.endswith("compare (endpoint)"):
            same = "snaps to the point; not compared"
        else:
            equal = sum(
                math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6) for a, b in zip(costs, base_costs, strict=True)
            )
            same = f"{equal}/{len(costs)}"
        lines.append(
            f"| {name} | {p(times, 0.5):.2f} | {p(times, 0.95):.2f} | "
            f"{statistics.median(times) / base_p50:.3f}x | {same} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--grid", type=int, default=160)
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--import-only", action="store_true", help="the grid's import and build costs only")
    parser.add_argument(
        "--extra-nodes", type=int, default=0, help="untagged nodes on no way, as a real extract's buildings"
    )
    parser.add_argument(
        "--country", action="store_true", help="--import-only --grid 1225 (about 3 M segments)"
    )
    args = parser.parse_args()
    if args.country:
        args.import_only, args.grid = True, 1225
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-streets-") as tmp:
        city = Path(tmp) / "grid-city.osm.pbf"
        started = time.perf_counter()
        write_grid_city(city, args.grid, args.seed, args.extra_nodes)
        print(f"wrote a {args.grid} x {args.grid} grid in {time.perf_counter() - started:.0f} s", flush=True)
        networks = [("synthetic grid", city)]
        if not args.import_only:
            networks.append(("Helsinki extract", HELSINKI))
        for label, pbf in networks:
            name = f"bench_streets_import_{os.getpid()}"
            asyncio.run(_create_db(args.server, name))
            url = args.server.rsplit("/", 1)[0] + "/" + name
            try:
                seconds, peak, summary = run_import(url, pbf)
                size_mb = pbf.stat().st_size / 1e6
                report.append(
                    f"\nimport {label} ({size_mb:.2f} MB pbf): {seconds:.1f} s wall (CLI, migrations "
                    f"included), peak {peak:.0f} MiB\n  {summary}"
                )
                print(report[-1], flush=True)
                graph, network, steps = load_graph(
                    url.replace("postgresql://", "postgresql+asyncpg://"), args.seed
                )
                report.append(
                    f"  worker graph: read + cells + weights + build {sum(s for _, s, _ in steps):.2f} s"
                )
                if args.import_only:
                    report += memory_lines(graph, steps) + held_lines(graph, network)
                else:
                    report += bench_network(label, args.server, graph, args.pairs, args.seed)
                del graph, network
            finally:
                asyncio.run(_drop_db(args.server, name))
    print("\n".join(report))


async def _create_db(server: str, name: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def _drop_db(server: str, name: str) -> None:
    admin = await asyncpg.connect(server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


if __name__ == "__main__":
    main()
