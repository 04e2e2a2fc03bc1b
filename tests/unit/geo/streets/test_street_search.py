"""The street search: exact A* (its cost equals Dijkstra's on random graphs), one-ways, snapping, steps."""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np
import pytest

from geo.points import haversine_m
from geo.streets.graph import StreetGraph, cells_along
from geo.streets.route import compare, describe, turn_name
from geo.streets.search import NoStreetRoute, OffNetwork, Snap, path_cost, search, snap

LAT0, LON0 = 60.17, 24.94
M_LAT = 1 / 111_195.0
M_LON = M_LAT / math.cos(math.radians(LAT0))


def _graph(
    ends: list[tuple[int, int]],
    points: list[tuple[float, float]],
    directions: list[tuple[bool, bool]],
    factors: dict[str, list[float]],
    names: list[str | None] | None = None,
) -> StreetGraph:
    lons = [np.array([LON0 + points[a][0] * M_LON, LON0 + points[b][0] * M_LON]) for a, b in ends]
    lats = [np.array([LAT0 + points[a][1] * M_LAT, LAT0 + points[b][1] * M_LAT]) for a, b in ends]
    length = np.array([haversine_m(la[0], lo[0], la[1], lo[1]) for lo, la in zip(lons, lats, strict=True)])
    n = len(ends)
    return StreetGraph.build(
        from_node=np.array([a for a, _ in ends], dtype=np.int64),
        to_node=np.array([b for _, b in ends], dtype=np.int64),
        lons=lons,
        lats=lats,
        length_m=length,
        forward=np.array([f for f, _ in directions]),
        backward=np.array([b for _, b in directions]),
        cost={p: length * np.array(f) for p, f in factors.items()},
        danger=np.zeros(n),
        separated=np.zeros(n, dtype=np.bool_),
        unridden_m=np.zeros(n),
        hazard_cells=[() for _ in range(n)],
        names=names or [None] * n,
    )


def _dijkstra_cost(graph: StreetGraph, start: Snap, end: Snap, profile: str) -> float:
    """The reference: networkx Dijkstra on the same segments, with the snapped points as extra nodes."""
    g = nx.MultiDiGraph()
    cost = graph.seg_cost[profile]
    for s in range(graph.segment_count):
        u, v = int(graph.seg_from[s]), int(graph.seg_to[s])
        if graph.seg_forward[s]:
            g.add_edge(u, v, weight=cost[s])
        if graph.seg_backward[s]:
            g.add_edge(v, u, weight=cost[s])
    s, t = start.segment, end.segment
    if graph.seg_forward[s] or start.fraction >= 1:
        g.add_edge("S", int(graph.seg_to[s]), weight=(1 - start.fraction) * cost[s])
    if graph.seg_backward[s] or start.fraction <= 0:
        g.add_edge("S", int(graph.seg_from[s]), weight=start.fraction * cost[s])
    if graph.seg_forward[t] or end.fraction <= 0:
        g.add_edge(int(graph.seg_from[t]), "T", weight=end.fraction * cost[t])
    if graph.seg_backward[t] or end.fraction >= 1:
        g.add_edge(int(graph.seg_to[t]), "T", weight=(1 - end.fraction) * cost[t])
    if s == t:
        if graph.seg_forward[s] and end.fraction >= start.fraction:
            g.add_edge("S", "T", weight=(end.fraction - start.fraction) * cost[s])
        if graph.seg_backward[s] and end.fraction <= start.fraction:
            g.add_edge("S", "T", weight=(start.fraction - end.fraction) * cost[s])
    try:
        return float(nx.dijkstra_path_length(g, "S", "T"))
    except nx.NetworkXNoPath:
        return math.inf


@pytest.mark.parametrize("seed", range(12))
def test_astar_cost_equals_dijkstra_on_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    points = [(rng.uniform(0, 3000), rng.uniform(0, 3000)) for _ in range(120)]
    ends = []
    for a in range(len(points)):
        near = sorted(range(len(points)), key=lambda b: math.dist(points[a], points[b]))[1:4]
        ends += [(a, b) for b in near if rng.random() < 0.8]
    directions = [rng.choice([(True, True), (True, True), (True, False), (False, True)]) for _ in ends]
    factors = {
        "shortest": [1.0] * len(ends),
        "safest": [rng.uniform(1.0, 3.0) for _ in ends],
        "child": [rng.choice([1.2, 1.5, 40.0]) for _ in ends],
    }
    graph = _graph(ends, points, directions, factors)
    for _ in range(15):
        a = (LAT0 + rng.uniform(0, 3000) * M_LAT, LON0 + rng.uniform(0, 3000) * M_LON)
        b = (LAT0 + rng.uniform(0, 3000) * M_LAT, LON0 + rng.uniform(0, 3000) * M_LON)
        start = snap(graph, *a, field="from", max_snap_m=5000)
        end = snap(graph, *b, field="to", max_snap_m=5000)
        for profile in factors:
            expected = _dijkstra_cost(graph, start, end, profile)
            if not math.isfinite(expected):
                with pytest.raises(NoStreetRoute):
                    search(graph, start, end, profile)
                continue
            cost, pieces = search(graph, start, end, profile)
            assert cost == pytest.approx(expected, rel=1e-9, abs=1e-6)
            assert path_cost(graph, pieces, profile) == pytest.approx(cost, rel=1e-9, abs=1e-6)


def _square() -> StreetGraph:
    """A 100 m square 0-1-2-3 with the side 0->1 one-way (for bicycles too) and a fast diagonal 0-2."""
    points = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]
    ends = [(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)]
    directions = [(True, False), (True, True), (True, True), (True, True), (True, True)]
    factors = {"shortest": [1.0] * 5, "child": [1.0, 1.0, 1.0, 1.0, 25.0]}
    names: list[str | None] = ["One-way", "East", "North", "West", "Fast"]
    return _graph(ends, points, directions, factors, names)


def _at(x: float, y: float) -> tuple[float, float]:
    return LAT0 + y * M_LAT, LON0 + x * M_LON


def test_a_one_way_is_never_ridden_against() -> None:
    graph = _square()
    route = compare(graph, *_at(90, 0), *_at(10, 0), "shortest").route
    assert all(
        p.forward for p in route.pieces if p.segment == 0
    )  # the one-way side only forward; here it is not used at all
    assert route.length_m > 250  # round the square rather than 80 m back along the one-way
    forward = compare(graph, *_at(10, 0), *_at(90, 0), "shortest").route
    assert forward.length_m == pytest.approx(80, abs=1.0)


def test_the_child_profile_takes_the_long_way_round_a_fast_street() -> None:
    graph = _square()
    shortest = compare(graph, *_at(0, 0), *_at(100, 100), "shortest").route
    child = compare(graph, *_at(0, 0), *_at(100, 100), "child").route
    assert {p.segment for p in shortest.pieces if p.share > 0} == {4}
    assert 4 not in {p.segment for p in child.pieces if p.share > 0}
    assert child.length_m == pytest.approx(200, abs=1.0)


def test_steps_name_the_streets_and_their_turns() -> None:
    graph = _square()
    route = compare(graph, *_at(10, 0), *_at(100, 90), "child").route
    assert [(s.name, s.turn) for s in route.steps] == [
        ("One-way", "depart"),
        ("East", "left"),
        ("East", "arrive"),
    ]
    assert route.steps[0].distance_m == pytest.approx(90, abs=1.0)
    assert route.geometry["coordinates"][0] == pytest.approx([_at(10, 0)[1], _at(10, 0)[0]], abs=1e-6)


def test_unnamed_ways_have_no_name_and_consecutive_ones_are_one_step() -> None:
    points = [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (300.0, 0.0), (300.0, 100.0)]
    ends = [(0, 1), (1, 2), (2, 3), (3, 4)]
    graph = _graph(ends, points, [(True, True)] * 4, {"shortest": [1.0] * 4}, ["Main", "", None, "North"])
    steps = compare(graph, *_at(10, 0), *_at(300, 90), "shortest").route.steps
    assert [(s.name, s.turn) for s in steps] == [
        ("Main", "depart"),
        (None, "straight"),
        ("North", "left"),
        ("North", "arrive"),
    ]
    assert steps[1].distance_m == pytest.approx(200, abs=1.0)


def test_points_far_from_every_street_are_outside_the_service_area() -> None:
    graph = _square()
    with pytest.raises(OffNetwork):
        snap(graph, *_at(1000, 1000), field="to", max_snap_m=250)
    assert snap(graph, *_at(50, -30), field="from").segment == 0


def test_turn_names() -> None:
    assert turn_name(0, 5) == "straight"
    assert turn_name(0, 45) == "slight-right"
    assert turn_name(90, 0) == "left"
    assert turn_name(0, 150) == "sharp-right"
    assert turn_name(0, 180) == "u-turn"
    assert turn_name(355, 10) == "straight"


def test_cells_along_adds_up_to_the_line() -> None:
    lons = np.array([LON0, LON0 + 1000 * M_LON])
    lats = np.array([LAT0, LAT0])
    cells = cells_along(lons, lats, 10)
    assert len(cells) >= 5
    assert sum(cells.values()) == pytest.approx(1000, rel=0.01)


def test_describe_a_route_of_one_point() -> None:
    graph = _square()
    cost, pieces = search(
        graph, snap(graph, *_at(50, 0), field="from"), snap(graph, *_at(50, 0), field="to"), "shortest"
    )
    route = describe(graph, pieces, "shortest", cost)
    assert route.length_m == 0 and len(route.geometry["coordinates"]) == 2
