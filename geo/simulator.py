"""A deterministic simulator of phone traces on a city's streets.

Tests, benchmarks and the demo need realistic rides without anyone's real
GPS. The streets are either a synthetic jittered grid over Mechelen (Belgium,
:func:`street_grid`) or a real street network (:class:`StreetMap`, built from
an imported OpenStreetMap extract's segments, each mode on the ways it may
use, one-ways respected). A ride follows streets between random junctions at
1 Hz, with per-mode speeds that wander, stops at some junctions, and
phone-like errors: correlated drift of a few metres (real receivers' error is
smooth, not white), some fixes that admit a poor accuracy, and rare 50-100 m
jumps that do not. Everything comes from the ``random.Random`` passed in, so
a seed reproduces a ride exactly.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from geo.points import EARTH_RADIUS_M, BoolArray, FloatArray, TracePoint, haversine_array_m

_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0

MECHELEN = (51.028, 4.480)
"""(lat, lon) of the grid's centre: Mechelen's ring, a mid-sized Belgian city."""

Mode = Literal["walk", "bike", "car"]
Int32Array = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class _Profile:
    speed_mps: tuple[float, float]  # range of a ride's cruising speed
    stop_probability: float  # at each junction passed
    stop_s: tuple[int, int]


PROFILES: dict[str, _Profile] = {
    "walk": _Profile((1.2, 1.6), 0.10, (5, 20)),
    "bike": _Profile((4.0, 6.0), 0.30, (5, 30)),
    "car": _Profile((9.0, 13.0), 0.30, (10, 40)),
}


Vertex = tuple[float, float, bool]
"""A point of a trip: ``(lat, lon, junction)``; riders may stop at junctions."""


class Streets(Protocol):
    """What a simulated ride needs of a street network: where to start, and trips between junctions."""

    def position(self, node: int) -> tuple[float, float]:
        """``(lat, lon)`` of a junction."""
        ...

    def start(self, rng: random.Random, mode: Mode) -> int:
        """A random junction ``mode`` can leave and come back to."""
        ...

    def trip(self, rng: random.Random, mode: Mode, here: int) -> tuple[list[Vertex], int]:
        """A trip from ``here`` to a random junction along the streets ``mode`` may use: its points
        (``here`` first) and the junction it ends at; only ``here`` when the draw stays put."""
        ...


@dataclass(frozen=True, slots=True)
class StreetGrid:
    """Junctions as ``(lat, lon)`` on a ``size`` x ``size`` grid; streets join grid neighbours.

    Every mode rides every street, both ways; junction ``i * size + j`` is row ``i``, column ``j``.
    """

    size: int
    nodes: tuple[tuple[float, float], ...]

    def node(self, i: int, j: int) -> tuple[float, float]:
        """The junction in row ``i``, column ``j``."""
        return self.nodes[i * self.size + j]

    def position(self, node: int) -> tuple[float, float]:
        return self.nodes[node]

    def start(self, rng: random.Random, mode: Mode) -> int:
        i, j = rng.randrange(self.size), rng.randrange(self.size)
        return i * self.size + j

    def trip(self, rng: random.Random, mode: Mode, here: int) -> tuple[list[Vertex], int]:
        target = (rng.randrange(self.size), rng.randrange(self.size))
        origin = divmod(here, self.size)
        path = _route(rng, self.size, origin, target) if target != origin else [origin]
        return [(*self.node(i, j), True) for i, j in path], target[0] * self.size + target[1]


MAX_TRIP_M = 3000.0
"""A trip on a :class:`StreetMap` ends at a random junction within this many metres of street."""


@dataclass(frozen=True, slots=True)
class _ModeStreets:
    """One mode's directed street graph: a CSR of street metres between junctions, the segment
    (and its direction) behind each entry, and the junctions of its largest strongly connected part."""

    matrix: csr_matrix
    segment: Int32Array
    against: BoolArray
    nodes: Int32Array


@dataclass(frozen=True, slots=True)
class StreetMap:
    """A real street network for simulated rides: junctions, segment polylines, and per mode the
    directions it may ride each segment in (the caller decides who may use what).

    Rides start and end only in a mode's largest strongly connected part, so every trip can be
    ridden and ridden back; a trip follows the shortest street path to a random junction within
    :data:`MAX_TRIP_M`, along the segments' geometry.
    """

    node_lat: FloatArray
    node_lon: FloatArray
    seg_lat: Sequence[FloatArray]
    seg_lon: Sequence[FloatArray]
    modes: Mapping[str, _ModeStreets]
    max_trip_m: float = MAX_TRIP_M

    @classmethod
    def build(
        cls,
        *,
        from_node: npt.NDArray[np.int64],
        to_node: npt.NDArray[np.int64],
        lats: Sequence[FloatArray],
        lons: Sequence[FloatArray],
        length_m: FloatArray,
        directions: Mapping[Mode, tuple[BoolArray, BoolArray]],
        max_trip_m: float = MAX_TRIP_M,
    ) -> StreetMap:
        """``directions[mode]`` = (may ride each segment along its nodes, against them). Raises
        ValueError when a mode has no two junctions it can ride between."""
        n_seg = int(length_m.shape[0])
        ids, inverse = np.unique(np.concatenate([from_node, to_node]), return_inverse=True)
        seg_from, seg_to = inverse[:n_seg].astype(np.int32), inverse[n_seg:].astype(np.int32)
        n = int(ids.shape[0])
        node_lat, node_lon = np.zeros(n), np.zeros(n)
        node_lat[seg_from] = [a[0] for a in lats]
        node_lon[seg_from] = [a[0] for a in lons]
        node_lat[seg_to] = [a[-1] for a in lats]
        node_lon[seg_to] = [a[-1] for a in lons]
        metres = np.maximum(np.asarray(length_m, dtype=np.float64), 0.01)  # csgraph: 0 is no edge
        modes: dict[str, _ModeStreets] = {}
        for mode, (forward, backward) in directions.items():
            fwd = np.flatnonzero(forward & (seg_from != seg_to))
            bwd = np.flatnonzero(backward & (seg_from != seg_to))
            rows = np.concatenate([seg_from[fwd], seg_to[bwd]]).astype(np.int64)
            cols = np.concatenate([seg_to[fwd], seg_from[bwd]]).astype(np.int64)
            segs = np.concatenate([fwd, bwd]).astype(np.int32)
            against = np.concatenate([np.zeros(fwd.size, np.bool_), np.ones(bwd.size, np.bool_)])
            # one entry per junction pair: the shortest segment joining them that way
            order = np.lexsort((metres[segs], cols, rows))
            keep = np.ones(order.size, dtype=np.bool_)
            keep[1:] = (rows[order][1:] != rows[order][:-1]) | (cols[order][1:] != cols[order][:-1])
            chosen = order[keep]  # sorted by (row, column): CSR order
            indptr = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(np.bincount(rows[chosen], minlength=n), out=indptr[1:])
            matrix = csr_matrix((metres[segs[chosen]], cols[chosen].astype(np.int32), indptr), shape=(n, n))
            _, label = connected_components(matrix, directed=True, connection="strong")
            sizes = np.bincount(label)
            main = int(np.argmax(sizes))
            if sizes[main] < 2:
                raise ValueError(f"no two junctions a {mode} can ride between")
            modes[mode] = _ModeStreets(
                matrix, segs[chosen], against[chosen], np.flatnonzero(label == main).astype(np.int32)
            )
        return cls(node_lat, node_lon, list(lats), list(lons), modes, max_trip_m)

    def position(self, node: int) -> tuple[float, float]:
        return float(self.node_lat[node]), float(self.node_lon[node])

    def start(self, rng: random.Random, mode: Mode) -> int:
        nodes = self.modes[mode].nodes
        return int(nodes[rng.randrange(nodes.size)])

    def nearest(self, lat: float, lon: float, mode: Mode = "bike") -> int:
        """The junction of ``mode``'s network nearest to ``(lat, lon)``."""
        nodes = self.modes[mode].nodes
        metres = haversine_array_m(self.node_lat[nodes], self.node_lon[nodes], lat, lon)
        return int(nodes[int(np.argmin(metres))])

    @property
    def centre(self) -> tuple[float, float]:
        """The middle of the junctions' bounding box, ``(lat, lon)``."""
        lat, lon = self.node_lat, self.node_lon
        return float(lat.min() + lat.max()) / 2, float(lon.min() + lon.max()) / 2

    def trip(self, rng: random.Random, mode: Mode, here: int) -> tuple[list[Vertex], int]:
        streets = self.modes[mode]
        dist, pred = dijkstra(streets.matrix, indices=here, return_predecessors=True, limit=self.max_trip_m)
        reach = streets.nodes[np.isfinite(dist[streets.nodes]) & (streets.nodes != here)]
        if reach.size == 0:  # every street out of here is longer than a trip: take the whole map
            dist, pred = dijkstra(streets.matrix, indices=here, return_predecessors=True)
            reach = streets.nodes[np.isfinite(dist[streets.nodes]) & (streets.nodes != here)]
        target = int(reach[rng.randrange(reach.size)])
        path = [target]
        while path[-1] != here:
            path.append(int(pred[path[-1]]))
        path.reverse()
        lat, lon = self.position(here)
        points: list[Vertex] = [(lat, lon, True)]
        indptr, indices = streets.matrix.indptr, streets.matrix.indices
        for a, b in itertools.pairwise(path):
            entry = int(indptr[a]) + int(np.searchsorted(indices[indptr[a] : indptr[a + 1]], b))
            s = int(streets.segment[entry])
            seg_lat, seg_lon = self.seg_lat[s], self.seg_lon[s]
            if streets.against[entry]:
                seg_lat, seg_lon = seg_lat[::-1], seg_lon[::-1]
            last = len(seg_lat) - 1
            points.extend((float(seg_lat[k]), float(seg_lon[k]), k == last) for k in range(1, last + 1))
        return points, target


def street_grid(
    seed: int = 0,
    *,
    size: int = 24,
    spacing_m: float = 140.0,
    jitter_m: float = 25.0,
    centre: tuple[float, float] = MECHELEN,
) -> StreetGrid:
    """Build the synthetic city: a ``size`` x ``size`` grid ``spacing_m`` apart, junctions jittered."""
    rng = random.Random(seed)  # noqa: S311 - reproducible geometry, not a secret
    clat, clon = centre
    kx = _M_PER_DEG * math.cos(math.radians(clat))
    half = (size - 1) * spacing_m / 2
    nodes = []
    for i in range(size):
        for j in range(size):
            y = i * spacing_m - half + rng.uniform(-jitter_m, jitter_m)
            x = j * spacing_m - half + rng.uniform(-jitter_m, jitter_m)
            nodes.append((clat + y / _M_PER_DEG, clon + x / kx))
    return StreetGrid(size, tuple(nodes))


@dataclass(frozen=True, slots=True)
class SimulatedRide:
    """A simulated upload and the truth behind it (for tests: true path and length)."""

    mode: Mode
    points: tuple[TracePoint, ...]
    true_lat: tuple[float, ...]
    true_lon: tuple[float, ...]
    true_distance_m: float
    outlier_indexes: tuple[int, ...]


def _route(
    rng: random.Random, size: int, start: tuple[int, int], end: tuple[int, int]
) -> list[tuple[int, int]]:
    """A random shortest street route: each step moves one block closer to ``end``."""
    path = [start]
    i, j = start
    while (i, j) != end:
        moves = []
        if i != end[0]:
            moves.append((i + (1 if end[0] > i else -1), j))
        if j != end[1]:
            moves.append((i, j + (1 if end[1] > j else -1)))
        i, j = rng.choice(moves)
        path.append((i, j))
    return path


def simulate_ride(
    rng: random.Random,
    *,
    mode: Mode = "bike",
    duration_s: int = 1800,
    start_t: float = 1_767_261_600.0,
    streets: Streets | None = None,
    noise_m: float = 3.0,
    outlier_rate: float = 0.004,
    poor_fix_rate: float = 0.01,
) -> SimulatedRide:
    """Simulate ``duration_s`` seconds of ``mode`` at 1 Hz (so ``duration_s`` points) on ``streets``
    (:func:`street_grid` by default), trip after trip until the time is up.

    ``start_t`` defaults to 2026-01-01 10:00 UTC. ``noise_m`` is the standard
    deviation of the correlated drift per axis.
    """
    profile = PROFILES[mode]
    streets = streets or street_grid()
    cruise = rng.uniform(*profile.speed_mps)
    here = streets.start(rng, mode)
    lat0 = streets.position(here)[0]
    kx = _M_PER_DEG * math.cos(math.radians(lat0))

    def metres(a: Vertex, b: Vertex) -> float:
        return math.hypot((b[0] - a[0]) * _M_PER_DEG, (b[1] - a[1]) * kx)

    true_lat: list[float] = []
    true_lon: list[float] = []
    route: list[Vertex] = [(*streets.position(here), True)]
    leg = 0  # index of the point we last passed
    along = 0.0  # metres from that point towards the next
    stop_left = 0
    wander = 0.0
    travelled = 0.0
    while len(true_lat) < duration_s:
        if leg + 1 >= len(route):
            route, here = streets.trip(rng, mode, here)
            leg, along = 0, 0.0
            if len(route) == 1:
                continue
        a, b = route[leg], route[leg + 1]
        leg_m = metres(a, b)
        f = min(along / leg_m, 1.0) if leg_m > 0 else 1.0
        true_lat.append(a[0] + f * (b[0] - a[0]))
        true_lon.append(a[1] + f * (b[1] - a[1]))
        if stop_left > 0:
            stop_left -= 1
            continue
        wander = 0.9 * wander + rng.gauss(0.0, 0.05)
        step = max(0.0, cruise * (1.0 + wander))
        along += step
        travelled += step
        while along >= leg_m and leg + 1 < len(route):
            along -= leg_m
            leg += 1
            if route[leg][2] and rng.random() < profile.stop_probability:
                stop_left = rng.randint(*profile.stop_s)
            if leg + 1 < len(route):
                leg_m = metres(route[leg], route[leg + 1])
        if leg + 1 >= len(route):
            travelled -= along  # the overshoot past the route's end is not ridden
            along = 0.0

    points: list[TracePoint] = []
    outliers: list[int] = []
    ex = ey = 0.0
    rho = 0.95
    innovation = noise_m * math.sqrt(1 - rho * rho)
    for k in range(duration_s):
        ex = rho * ex + rng.gauss(0.0, innovation)
        ey = rho * ey + rng.gauss(0.0, innovation)
        dx, dy = ex, ey
        accuracy = round(rng.uniform(3.0, 10.0), 1)
        roll = rng.random()
        if roll < outlier_rate:
            bearing = rng.uniform(0, 2 * math.pi)
            jump = rng.uniform(50.0, 100.0)
            dx += jump * math.cos(bearing)
            dy += jump * math.sin(bearing)
            outliers.append(k)
        elif roll < outlier_rate + poor_fix_rate:
            accuracy = round(rng.uniform(60.0, 150.0), 1)
            dx += rng.gauss(0.0, 30.0)
            dy += rng.gauss(0.0, 30.0)
        points.append(TracePoint(true_lat[k] + dy / _M_PER_DEG, true_lon[k] + dx / kx, start_t + k, accuracy))
    return SimulatedRide(mode, tuple(points), tuple(true_lat), tuple(true_lon), travelled, tuple(outliers))
