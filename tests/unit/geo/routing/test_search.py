"""Safe routes on the cell graph: detours around hazards, connected optimal paths, typed refusals."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import h3
import pytest

from geo.routing.graph import PROFILES, OutsideServiceArea, RoutingGraph, UnknownProfile, Unreachable
from geo.routing.search import compare, route, snap
from geo.simulator import MECHELEN

BRUGES = (51.209, 3.225)
ORIGIN = h3.latlng_to_cell(*MECHELEN, 10)


def centre(cell: str) -> tuple[float, float]:
    lat, lon = h3.cell_to_latlng(cell)
    return float(lat), float(lon)


def ride(cells: list[str], count: int = 5) -> list[tuple[str, str, int]]:
    return [(a, b, count) for a, b in itertools.pairwise(cells)]


def hazard_city() -> tuple[RoutingGraph, list[str], list[str]]:
    """A straight street of 10 steps through a hazardous junction, and a parallel one of 11 steps."""
    i0, j0 = h3.cell_to_local_ij(ORIGIN, ORIGIN)
    main = [h3.local_ij_to_cell(ORIGIN, i0 + k, j0) for k in range(11)]
    side = [h3.local_ij_to_cell(ORIGIN, i0 + k, j0 + 1) for k in range(11)]
    detour = [main[0], *side[1:], main[10]]
    graph = RoutingGraph.build(
        ride(main) + ride(detour),
        {main[5]: 80.0},
        {main[5]: 1},
        service_area_cells=main + side,
        version="v1",
        built_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    return graph, main, detour


def disk_city(
    seed: int, *, radius: int = 10, hazards: bool = True
) -> tuple[RoutingGraph, random.Random, list[str]]:
    """Every neighbour pair ridden (no fallback edge), random danger and hazards."""
    rng = random.Random(seed)
    area = sorted(h3.grid_disk(ORIGIN, radius))
    inside = set(area)
    transitions = [(a, b, 3) for a in area for b in h3.grid_ring(a, 1) if b in inside and a < b]
    danger = {c: rng.choice([0.0, 5.0, 20.0, 60.0, 95.0]) for c in area}
    hazard_cells = {c: rng.randint(1, 4) for c in area if hazards and rng.random() < 0.05}
    graph = RoutingGraph.build(transitions, danger, hazard_cells, service_area_cells=area)
    return graph, rng, area


def test_safest_detours_around_the_hazardous_junction_and_shortest_goes_through_it() -> None:
    graph, main, detour = hazard_city()
    start, end = centre(main[0]), centre(main[10])

    shortest = route(graph, *start, *end, "shortest")
    safest = route(graph, *start, *end, "safest")
    balanced = route(graph, *start, *end, "balanced")

    assert list(shortest.cells) == main
    assert shortest.hazards_on_route == 1
    assert list(safest.cells) == detour
    assert list(balanced.cells) == detour
    assert safest.hazards_on_route == 0
    assert safest.danger_exposure == 0.0 < shortest.danger_exposure
    assert shortest.length_m < safest.length_m < 1.15 * shortest.length_m
    assert safest.fallback_m == 0.0


def test_the_comparison_says_what_the_detour_buys() -> None:
    graph, main, _ = hazard_city()
    answer = compare(graph, *centre(main[0]), *centre(main[10]), "safest")

    assert answer.route.profile == "safest"
    assert answer.shortest.profile == "shortest"
    assert answer.route.hazards_on_route == 0
    assert answer.shortest.hazards_on_route == 1
    assert answer.shortest.length_m < answer.route.length_m
    assert answer.shortest.danger_exposure > answer.route.danger_exposure
    same = compare(graph, *centre(main[0]), *centre(main[10]), "shortest")
    assert same.route is same.shortest


def test_the_linestring_is_lon_lat_and_starts_and_ends_at_the_end_cells() -> None:
    graph, main, _ = hazard_city()
    result = route(graph, *centre(main[0]), *centre(main[10]), "shortest")
    coords = result.geometry["coordinates"]
    lat0, lon0 = centre(main[0])
    lat1, lon1 = centre(main[10])

    assert coords[0] == pytest.approx([lon0, lat0], abs=1e-6)
    assert coords[-1] == pytest.approx([lon1, lat1], abs=1e-6)
    assert all(4.0 < lon < 5.0 and 50.5 < lat < 51.5 for lon, lat in coords)
    assert 2 <= len(coords) <= len(result.cells)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_route_is_a_connected_path_of_neighbouring_cells_between_the_snapped_ends(seed: int) -> None:
    graph, rng, area = disk_city(seed)
    for _ in range(15):
        a, b = rng.sample(area, 2)
        for profile in PROFILES:
            result = route(graph, *centre(a), *centre(b), profile)
            assert result.cells[0] == a
            assert result.cells[-1] == b
            assert all(h3.are_neighbor_cells(x, y) for x, y in itertools.pairwise(result.cells))
            assert len(set(result.cells)) == len(result.cells)


def test_routes_cost_the_same_as_networkx_dijkstra_on_the_same_weights() -> None:
    nx = pytest.importorskip("networkx")
    graph, rng, area = disk_city(4)
    for profile in PROFILES:
        g = nx.Graph()
        weights = graph.weights[profile]
        for k in range(len(weights)):
            g.add_edge(int(graph.entry_row[k]), int(graph.indices[k]), weight=float(weights[k]))
        for _ in range(10):
            a, b = rng.sample(area, 2)
            expected = nx.dijkstra_path_length(g, graph.index[a], graph.index[b])
            assert route(graph, *centre(a), *centre(b), profile).cost == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", [5, 6])
def test_safer_profiles_are_never_shorter_nor_more_exposed(seed: int) -> None:
    graph, rng, area = disk_city(seed, radius=8, hazards=False)
    for _ in range(20):
        a, b = rng.sample(area, 2)
        short, balanced, safe = (route(graph, *centre(a), *centre(b), p) for p in PROFILES)
        assert short.length_m <= balanced.length_m + 1e-6
        assert balanced.length_m <= safe.length_m + 1e-6
        assert safe.danger_exposure <= balanced.danger_exposure + 1e-6
        assert balanced.danger_exposure <= short.danger_exposure + 1e-6


def test_a_point_far_from_the_service_area_is_refused_naming_its_field() -> None:
    graph, main, _ = hazard_city()
    with pytest.raises(OutsideServiceArea) as caught:
        route(graph, *BRUGES, *centre(main[10]))
    assert caught.value.field == "from"
    with pytest.raises(OutsideServiceArea) as caught:
        compare(graph, *centre(main[0]), 91.0, 4.48)
    assert caught.value.field == "to"
    assert isinstance(caught.value, ValueError)


def test_a_point_just_off_the_graph_snaps_to_the_nearest_cell_within_the_snap_distance() -> None:
    graph, main, _ = hazard_city()
    off = next(c for c in h3.grid_ring(main[0], 1) if c not in graph.index)
    lat, lon = centre(off)

    found = graph.cells[snap(graph, lat, lon, field="from")]

    assert h3.are_neighbor_cells(found, off)
    assert route(graph, lat, lon, *centre(main[10]), "shortest").cells[0] == found
    far = next(c for c in h3.grid_ring(main[0], 3) if all(h3.grid_distance(c, x) >= 3 for x in graph.index))
    with pytest.raises(OutsideServiceArea):
        snap(graph, *centre(far), field="from")


def test_disconnected_islands_are_unreachable_but_each_routes_inside() -> None:
    here = h3.grid_path_cells(ORIGIN, h3.grid_disk(ORIGIN, 6)[-1])
    bruges = h3.latlng_to_cell(*BRUGES, 10)
    there = h3.grid_path_cells(bruges, h3.grid_disk(bruges, 6)[-1])
    graph = RoutingGraph.build(ride(list(here)) + ride(list(there)), {}, {})

    with pytest.raises(Unreachable) as caught:
        route(graph, *centre(here[0]), *centre(there[-1]))
    assert caught.value.field == "to"
    assert route(graph, *centre(there[0]), *centre(there[-1])).cells[-1] == there[-1]


def test_fallback_adjacency_bridges_a_gap_nobody_has_ridden_at_a_penalty() -> None:
    line = list(h3.grid_path_cells(ORIGIN, h3.grid_disk(ORIGIN, 12)[-1]))
    graph = RoutingGraph.build(ride(line[:5]) + ride(line[8:]), {}, {}, margin_rings=2)

    result = route(graph, *centre(line[0]), *centre(line[-1]), "shortest")

    assert result.cells[0] == line[0] and result.cells[-1] == line[-1]
    assert all(h3.are_neighbor_cells(x, y) for x, y in itertools.pairwise(result.cells))
    assert 0 < result.fallback_m < result.length_m
    assert result.cost == pytest.approx(result.length_m + 3 * result.fallback_m)


def test_both_points_in_one_cell_give_a_one_cell_route() -> None:
    graph, main, _ = hazard_city()
    result = route(graph, *centre(main[5]), *centre(main[5]), "safest")
    assert result.cells == (main[5],)
    assert result.length_m == 0.0
    assert result.hazards_on_route == 1
    assert result.mean_danger == 80.0
    assert len(result.geometry["coordinates"]) == 2


def test_an_unknown_profile_is_refused() -> None:
    graph, main, _ = hazard_city()
    with pytest.raises(UnknownProfile) as caught:
        route(graph, *centre(main[0]), *centre(main[1]), "fastest")  # type: ignore[arg-type]
    assert caught.value.field == "profile"


def test_the_graph_carries_the_callers_version_stamp_and_refuses_mixed_resolutions() -> None:
    graph, _, _ = hazard_city()
    assert graph.version == "v1"
    assert graph.built_at == datetime(2026, 6, 1, tzinfo=UTC)
    coarse = h3.cell_to_parent(ORIGIN, 9)
    with pytest.raises(ValueError, match="resolution"):
        RoutingGraph.build([(ORIGIN, h3.grid_ring(ORIGIN, 1)[0], 1)], {}, {}, service_area_cells=[coarse])


def test_the_derived_service_area_is_every_ridden_cell_and_its_margin_rings() -> None:
    line = list(h3.grid_path_cells(ORIGIN, h3.grid_disk(ORIGIN, 5)[-1]))
    graph = RoutingGraph.build(ride(line), {}, {}, margin_rings=2)

    expected = set().union(*(h3.grid_disk(c, 2) for c in line))
    assert set(graph.cells) == expected
    assert graph.traversed_edges == len(line) - 1


def test_an_empty_graph_refuses_every_point() -> None:
    graph = RoutingGraph.build([], {}, {})
    with pytest.raises(OutsideServiceArea):
        route(graph, *MECHELEN, *MECHELEN)
