"""Routes on the street graph: snap both points onto legal segments, A* between them, describe the route.

Snapping: a point goes to the nearest point of the nearest segment a bicycle
may ride (in either direction), within ``max_snap_m``; farther is outside the
service area. The route starts and ends at those snapped points, so it begins
part-way along a segment in the directions the segment allows.

The search is exact A*: scipy's compiled Dijkstra on reduced costs
``w(u, v) - h(u) + h(v)`` with ``h(x) = chord(x, target) * min_rate * (1 - 0.5 %)``
(no step costs less per metre than ``min_rate``, and no path is shorter than the
chord, so ``h`` is admissible and consistent; the 0.5 % absorbs the difference
between the local plane snapping measures in and the sphere), under a ``limit``
that grows until the best candidate end is settled. The start is a virtual
node joined to its segment's legal ends (and to the end it sits on, if it
was snapped onto a node); the end is reached alike.

Positions are named ``lat``/``lon``; GeoJSON is ``[lon, lat]`` (RFC 7946).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo.errors import FieldError
from geo.points import EARTH_RADIUS_M, FloatArray
from geo.streets.graph import StreetGraph, local_xy

DEFAULT_MAX_SNAP_M = 250.0
"""A point farther than this from every bicycle-legal segment is outside the service area."""
BOUND_SLACK = 0.995
_MIN_REDUCED = 1e-9
_FIRST_LIMIT_SHARE = 0.2
_FIRST_LIMIT_M = 500.0
_LIMIT_GROWTH = 2.0
_MAX_BOUNDED_TRIES = 5


class StreetRoutingError(FieldError):
    """A street route request cannot be answered; ``field`` names the parameter at fault."""


class OffNetwork(StreetRoutingError):
    """The point is farther than the snap distance from every bicycle-legal segment (422)."""


class NoStreetRoute(StreetRoutingError):
    """Both points snap, but no legal path joins them (one-ways, islands) (422)."""


@dataclass(frozen=True, slots=True)
class Snap:
    """A point on a segment: ``fraction`` of its length from its first node."""

    segment: int
    fraction: float
    lat: float
    lon: float
    distance_m: float


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of one segment ridden in one direction, from ``start`` to ``end`` (fractions)."""

    segment: int
    start: float
    end: float

    @property
    def forward(self) -> bool:
        return self.end >= self.start

    @property
    def share(self) -> float:
        return abs(self.end - self.start)


@dataclass(frozen=True, slots=True)
class Step:
    """One instruction: ride ``distance_m`` on ``name`` (None: unnamed) after turning ``turn`` onto it."""

    name: str | None
    distance_m: float
    turn: str


@dataclass(frozen=True, slots=True)
class StreetRoute:
    """A route and its figures (as the cell router's, plus the street ones).

    ``danger_exposure``: ``sum(metres * danger / 100)`` over the pieces; ``unridden_m``:
    metres in cells no release shows riding; ``separated_m``: metres on separated
    infrastructure; ``cost``: the profile's objective, for comparisons only.
    """

    profile: str
    pieces: tuple[Piece, ...]
    geometry: dict[str, Any]
    length_m: float
    danger_exposure: float
    mean_danger: float
    hazards_on_route: int
    unridden_m: float
    separated_m: float
    cost: float
    steps: tuple[Step, ...] = field(default=())


def snap(
    graph: StreetGraph, lat: float, lon: float, *, field: str, max_snap_m: float = DEFAULT_MAX_SNAP_M
) -> Snap:
    """The nearest point of a bicycle-legal segment within ``max_snap_m``, else :class:`OffNetwork`."""
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise OffNetwork(field, "not a valid position")
    if graph.tree_segments.size == 0:
        raise OffNetwork(field, "the point is outside the service area")
    x, y = local_xy(np.array(lon), np.array(lat), graph.ref_lat)
    point = shapely.points(float(x), float(y))
    hits, dist = graph.tree.query_nearest(point, max_distance=max_snap_m, return_distance=True)
    if hits.size == 0:
        raise OffNetwork(
            field, f"the point is farther than {max_snap_m:g} m from every street a bicycle may use"
        )
    best = int(hits[np.lexsort((graph.tree_segments[hits], dist))[0]])
    segment = int(graph.tree_segments[best])
    line = graph.tree.geometries[best]
    fraction = float(shapely.line_locate_point(line, point, normalized=True)) if line.length > 0 else 0.0
    lat_s, lon_s = _point_at(graph, segment, fraction)
    return Snap(segment, fraction, lat_s, lon_s, float(dist[np.argmin(dist)]))


def _point_at(graph: StreetGraph, segment: int, fraction: float) -> tuple[float, float]:
    lons, lats = graph.seg_lon[segment], graph.seg_lat[segment]
    cum = _cumulative(lons, lats)
    at = fraction * cum[-1]
    i = int(np.clip(np.searchsorted(cum, at, side="right") - 1, 0, len(cum) - 2))
    span = cum[i + 1] - cum[i]
    t = 0.0 if span <= 0 else (at - cum[i]) / span
    return float(lats[i] + t * (lats[i + 1] - lats[i])), float(lons[i] + t * (lons[i + 1] - lons[i]))


def _cumulative(lons: FloatArray, lats: FloatArray) -> FloatArray:
    x, y = local_xy(lons, lats, float(lats[0]))
    steps = np.hypot(np.diff(x), np.diff(y))
    return np.concatenate([[0.0], np.cumsum(steps)])


def search(graph: StreetGraph, start: Snap, end: Snap, profile: str) -> tuple[float, list[Piece]]:
    """The least-cost legal path from ``start`` to ``end`` under ``profile``: its cost and pieces."""
    cost = graph.seg_cost[profile]
    s, t = start.segment, end.segment
    n = graph.node_count
    # the start's virtual node n: out-edges to its segment's legal ends
    leave: dict[int, float] = {}
    if graph.seg_forward[s] or start.fraction >= 1.0:
        leave[int(graph.seg_to[s])] = (1.0 - start.fraction) * cost[s]
    if graph.seg_backward[s] or start.fraction <= 0.0:
        back = int(graph.seg_from[s])
        leave[back] = min(leave.get(back, math.inf), start.fraction * cost[s])
    out_nodes, out_costs = sorted(leave), [leave[k] for k in sorted(leave)]
    # the end is reached from its segment's legal ends: (node, cost of the rest, piece)
    arrivals: list[tuple[int, float, Piece]] = []
    if graph.seg_forward[t] or end.fraction <= 0.0:
        arrivals.append((int(graph.seg_from[t]), end.fraction * cost[t], Piece(t, 0.0, end.fraction)))
    if graph.seg_backward[t] or end.fraction >= 1.0:
        arrivals.append((int(graph.seg_to[t]), (1.0 - end.fraction) * cost[t], Piece(t, 1.0, end.fraction)))

    best_cost, best_pieces = math.inf, [Piece(s, start.fraction, start.fraction)]
    if s == t and (
        (graph.seg_forward[s] and end.fraction >= start.fraction)
        or (graph.seg_backward[s] and end.fraction <= start.fraction)
    ):
        best_cost = abs(end.fraction - start.fraction) * cost[s]
        best_pieces = [Piece(s, start.fraction, end.fraction)]

    rate = graph.min_rate[profile] * BOUND_SLACK
    h_nodes = graph.chord_m(end.lat, end.lon) * rate
    h_start = _chord_m(start.lat, start.lon, end.lat, end.lon) * rate
    h = np.append(h_nodes, h_start)
    weights = graph.weights[profile]
    reduced = np.take(h, graph.indices)
    reduced += weights
    reduced -= np.repeat(h[:n], graph._degree)
    extra = np.asarray(out_costs) + h[np.asarray(out_nodes, dtype=np.intp)] - h_start
    data = np.maximum(np.concatenate([reduced, extra]), _MIN_REDUCED)
    indices = np.concatenate([graph.indices, np.asarray(out_nodes, dtype=np.int32)])
    indptr = np.append(graph.indptr, graph.indptr[-1] + len(out_nodes)).astype(np.int32)
    matrix = csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))

    limit = _FIRST_LIMIT_SHARE * h_start + _FIRST_LIMIT_M
    found: tuple[float, int, Piece] | None = None
    pred: Any = None
    for attempt in range(_MAX_BOUNDED_TRIES + 1):
        bound = limit if attempt < _MAX_BOUNDED_TRIES else np.inf
        dist, pred = dijkstra(matrix, directed=True, indices=n, return_predecessors=True, limit=bound)
        found = None
        for node, rest, piece in arrivals:
            if np.isfinite(dist[node]):
                total_reduced = dist[node] + rest - h[node]
                if found is None or total_reduced < found[0]:
                    found = (float(total_reduced), node, piece)
        settled = found is not None and found[0] <= bound
        reduced_direct = best_cost - h_start
        if settled or (best_cost < math.inf and reduced_direct <= bound) or not np.isfinite(bound):
            break
        limit *= _LIMIT_GROWTH
    if found is not None:
        reduced_total, node, last = found
        total = reduced_total + h_start
        if total < best_cost:
            best_cost = total
            best_pieces = [*_pieces(graph, pred, node, start, profile), last]
    if not math.isfinite(best_cost):
        raise NoStreetRoute("to", "no legal bicycle route joins from and to")
    return float(best_cost), best_pieces


def _chord_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    def xyz(lat: float, lon: float) -> FloatArray:
        a, b = math.radians(lat), math.radians(lon)
        return np.array([math.cos(a) * math.cos(b), math.cos(a) * math.sin(b), math.sin(a)])

    return float(np.linalg.norm(xyz(lat1, lon1) - xyz(lat2, lon2)) * EARTH_RADIUS_M)


def _pieces(graph: StreetGraph, pred: Any, last_node: int, start: Snap, profile: str) -> list[Piece]:
    n = graph.node_count
    nodes = [last_node]
    while nodes[-1] != n:
        nodes.append(int(pred[nodes[-1]]))
    nodes.reverse()
    s = start.segment
    first = nodes[1]
    forward_first = (bool(graph.seg_forward[s]) or start.fraction >= 1.0) and int(graph.seg_to[s]) == first
    if forward_first and graph.seg_backward[s] and int(graph.seg_from[s]) == first:
        forward_first = start.fraction >= 0.5  # a loop: the cheaper way round
    pieces = [Piece(s, start.fraction, 1.0 if forward_first else 0.0)]
    entry_segment = graph.entry_segment[profile]
    for u, v in itertools.pairwise(nodes[1:]):
        lo, hi = int(graph.indptr[u]), int(graph.indptr[u + 1])
        k = lo + int(np.searchsorted(graph.indices[lo:hi], v))
        seg = int(entry_segment[k])
        forward = int(graph.seg_from[seg]) == u and bool(graph.seg_forward[seg])
        pieces.append(Piece(seg, 0.0, 1.0) if forward else Piece(seg, 1.0, 0.0))
    return pieces


def path_cost(graph: StreetGraph, pieces: list[Piece], profile: str) -> float:
    """The profile's cost of a path of pieces (what :func:`search` minimises)."""
    return float(sum(p.share * graph.seg_cost[profile][p.segment] for p in pieces))
