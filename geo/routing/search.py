"""Safe routes on the cell graph: snap both points, search, and describe the route.

The search is A* run as scipy's compiled Dijkstra on reduced costs
``w(u, v) - h(u) + h(v)`` with ``h`` the great-circle distance to the target
(consistent, since every weight is at least the great-circle length), under a
``limit`` that grows until the target is reached: only a corridor around the
straight line is ever settled, and no Python loop runs over the city.

Positions are named ``lat``/``lon``; GeoJSON is ``[lon, lat]`` (RFC 7946).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import h3
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString

from geo.points import EARTH_RADIUS_M, haversine_array_m
from geo.routing.graph import (
    MAX_MULTIPLIER,
    PROFILES,
    OutsideServiceArea,
    Profile,
    RoutingGraph,
    UnknownProfile,
    Unreachable,
)

DEFAULT_MAX_SNAP_M = 150.0
"""A point farther than this from every graph cell centre is outside the service area."""
SIMPLIFY_TOLERANCE_DEG = 3.0 / (EARTH_RADIUS_M * math.pi / 180.0)
"""~3 m: drops collinear centres without moving the line off its cells."""

_MIN_REDUCED_WEIGHT = 1e-9
_FIRST_LIMIT_SHARE = 0.1
_FIRST_LIMIT_M = 300.0
_LIMIT_GROWTH = 2.0
_MAX_BOUNDED_TRIES = 6


@dataclass(frozen=True, slots=True)
class RouteResult:
    """One route and the figures the app shows for it.

    ``length_m``: metres between consecutive cell centres (0 for a one-cell route).
    ``danger_exposure``: the danger-weighted length, ``sum(length * danger / 100)``
    over the steps, each step taking the mean score of its two cells: "the
    metres ridden at full danger"; 0 on a safe route, never above ``length_m``.
    ``mean_danger``: exposure per metre on the 0-100 scale (the cell's own
    score on a one-cell route). ``hazards_on_route``: open confirmed hazards in
    the route's cells. ``fallback_m``: metres on grid adjacency nobody has
    ridden yet. ``cost``: the profile's objective, for comparisons only.
    ``geometry`` is a GeoJSON LineString, ``[lon, lat]``, simplified.
    """

    profile: Profile
    cells: tuple[str, ...]
    geometry: dict[str, Any]
    length_m: float
    danger_exposure: float
    mean_danger: float
    hazards_on_route: int
    fallback_m: float
    cost: float


@dataclass(frozen=True, slots=True)
class RouteComparison:
    """The chosen profile's route and the shortest one, so the app can say what the detour buys."""

    route: RouteResult
    shortest: RouteResult


def snap(
    graph: RoutingGraph, lat: float, lon: float, *, field: str, max_snap_m: float = DEFAULT_MAX_SNAP_M
) -> int:
    """The graph cell for a point: the one containing it, else the nearest centre within ``max_snap_m``.

    Only ``grid_disk`` rings that can hold such a centre are looked at (a centre
    in ring ``k`` is at least ``1.5 k`` edge lengths from the home centre, and the
    point is at most one edge length from it).
    """
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise OutsideServiceArea(field, "not a valid position")
    home = h3.latlng_to_cell(lat, lon, graph.resolution)
    found = graph.index.get(home)
    if found is not None:
        return found
    clat, clon = h3.cell_to_latlng(home)
    vlat, vlon = h3.cell_to_boundary(home)[0]
    edge_m = max(float(haversine_array_m(clat, clon, vlat, vlon)), 1e-3)
    rings = math.ceil((max_snap_m + edge_m) / (1.5 * edge_m))
    near = np.array([i for c in h3.grid_disk(home, rings) if (i := graph.index.get(c)) is not None], np.intp)
    if near.size:
        dist = haversine_array_m(lat, lon, graph.lat[near], graph.lon[near])
        best = int(np.argmin(dist))
        if dist[best] <= max_snap_m:
            return int(near[best])
    raise OutsideServiceArea(field, "the point is outside the service area")


def _search(graph: RoutingGraph, source: int, target: int, profile: Profile) -> list[int]:
    """A* as compiled Dijkstra on reduced costs, under a growing ``limit``; the node path."""
    if source == target:
        return [source]
    if graph.component[source] != graph.component[target]:
        raise Unreachable("to", "no route joins from and to")
    h = graph.heuristic_m(target, profile)
    reduced = np.take(h, graph._cols)
    reduced += graph.weights[profile]
    reduced -= np.repeat(h, graph._degree)
    np.maximum(reduced, _MIN_REDUCED_WEIGHT, out=reduced)
    matrix = csr_matrix((reduced, graph.indices, graph.indptr), shape=(len(graph.cells),) * 2)
    limit = _FIRST_LIMIT_SHARE * float(h[source]) + _FIRST_LIMIT_M
    for attempt in range(_MAX_BOUNDED_TRIES + 1):
        bound = limit if attempt < _MAX_BOUNDED_TRIES else np.inf
        dist, pred = dijkstra(matrix, directed=True, indices=source, return_predecessors=True, limit=bound)
        if np.isfinite(dist[target]):
            break
        limit *= _LIMIT_GROWTH
    path = [target]
    while path[-1] != source:
        path.append(int(pred[path[-1]]))
    path.reverse()
    return path


def _result(graph: RoutingGraph, path: list[int], profile: Profile) -> RouteResult:
    nodes = np.asarray(path, dtype=np.intp)
    cells = tuple(graph.cells[i] for i in path)
    coords = np.stack([graph.lon[nodes], graph.lat[nodes]], axis=1)
    if len(path) == 1:
        only = float(graph.danger[nodes[0]])
        line = [[round(float(coords[0, 0]), 7), round(float(coords[0, 1]), 7)]] * 2
        geometry = {"type": "LineString", "coordinates": line}
        return RouteResult(profile, cells, geometry, 0.0, 0.0, only, int(graph.hazards[nodes[0]]), 0.0, 0.0)
    u, v = nodes[:-1], nodes[1:]
    slots = graph.indptr[u][:, None] + np.arange(graph.max_degree)
    slots = np.minimum(slots, graph.indptr[u + 1][:, None] - 1)
    entry = slots[np.arange(len(u)), np.argmax(graph.indices[slots] == v[:, None], axis=1)]
    step_m = graph.entry_length_m[entry]
    length = float(step_m.sum())
    exposure = float((step_m * (graph.danger[u] + graph.danger[v]) / 200.0).sum())
    simple = LineString(coords).simplify(SIMPLIFY_TOLERANCE_DEG, preserve_topology=True)
    line = [[round(x, 7), round(y, 7)] for x, y in simple.coords]
    return RouteResult(
        profile=profile,
        cells=cells,
        geometry={"type": "LineString", "coordinates": line},
        length_m=length,
        danger_exposure=exposure,
        mean_danger=100.0 * exposure / length if length > 0 else 0.0,
        hazards_on_route=int(graph.hazards[nodes].sum()),
        fallback_m=float(step_m[graph.entry_fallback[entry]].sum()),
        cost=float(graph.weights[profile][entry].sum()),
    )


def _check_profile(profile: str) -> Profile:
    if profile not in MAX_MULTIPLIER:
        raise UnknownProfile("profile", f"must be one of {', '.join(PROFILES)}")
    return profile  # type: ignore[return-value]


def route(
    graph: RoutingGraph,
    from_lat: float,
    from_lon: float,
    to_lat: float,
    to_lon: float,
    profile: Profile = "safest",
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> RouteResult:
    """The least-cost route for ``profile`` between two points; raises a :class:`RoutingError`."""
    checked = _check_profile(profile)
    source = snap(graph, from_lat, from_lon, field="from", max_snap_m=max_snap_m)
    target = snap(graph, to_lat, to_lon, field="to", max_snap_m=max_snap_m)
    return _result(graph, _search(graph, source, target, checked), checked)


def compare(
    graph: RoutingGraph,
    from_lat: float,
    from_lon: float,
    to_lat: float,
    to_lon: float,
    profile: Profile = "safest",
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> RouteComparison:
    """What ``GET /routes/safe`` answers: the profile's route and the shortest (one snap, two searches)."""
    checked = _check_profile(profile)
    source = snap(graph, from_lat, from_lon, field="from", max_snap_m=max_snap_m)
    target = snap(graph, to_lat, to_lon, field="to", max_snap_m=max_snap_m)
    chosen = _result(graph, _search(graph, source, target, checked), checked)
    if checked == "shortest":
        return RouteComparison(chosen, chosen)
    return RouteComparison(chosen, _result(graph, _search(graph, source, target, "shortest"), "shortest"))
