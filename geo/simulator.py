"""A deterministic simulator of phone traces on a synthetic city street grid.

Tests, benchmarks and the demo need realistic rides without anyone's real
GPS. The city is a jittered grid of streets over Mechelen (Belgium); a ride
follows streets between random junctions at 1 Hz, with per-mode speeds that
wander, stops at some junctions, and phone-like errors: correlated drift of a
few metres (real receivers' error is smooth, not white), some fixes that
admit a poor accuracy, and rare 50-100 m jumps that do not. Everything comes
from the ``random.Random`` passed in, so a seed reproduces a ride exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from geo.points import EARTH_RADIUS_M, TracePoint

_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0

MECHELEN = (51.028, 4.480)
"""(lat, lon) of the grid's centre: Mechelen's ring, a mid-sized Belgian city."""

Mode = Literal["walk", "bike", "car"]


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


@dataclass(frozen=True, slots=True)
class StreetGrid:
    """Junctions as ``(lat, lon)`` on a ``size`` x ``size`` grid; streets join grid neighbours."""

    size: int
    nodes: tuple[tuple[float, float], ...]

    def node(self, i: int, j: int) -> tuple[float, float]:
        """The junction in row ``i``, column ``j``."""
        return self.nodes[i * self.size + j]


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
    grid: StreetGrid | None = None,
    noise_m: float = 3.0,
    outlier_rate: float = 0.004,
    poor_fix_rate: float = 0.01,
) -> SimulatedRide:
    """Simulate ``duration_s`` seconds of ``mode`` at 1 Hz (so ``duration_s`` points).

    ``start_t`` defaults to 2026-01-01 10:00 UTC. ``noise_m`` is the standard
    deviation of the correlated drift per axis.
    """
    profile = PROFILES[mode]
    grid = grid or street_grid()
    size = grid.size
    cruise = rng.uniform(*profile.speed_mps)
    here = (rng.randrange(size), rng.randrange(size))
    lat0 = grid.node(*here)[0]
    kx = _M_PER_DEG * math.cos(math.radians(lat0))

    true_lat: list[float] = []
    true_lon: list[float] = []
    route: list[tuple[int, int]] = [here]
    leg = 0  # index of the junction we last passed
    along = 0.0  # metres from that junction towards the next
    stop_left = 0
    wander = 0.0
    travelled = 0.0
    while len(true_lat) < duration_s:
        if leg + 1 >= len(route):
            target = (rng.randrange(size), rng.randrange(size))
            route = _route(rng, size, route[-1], target) if target != route[-1] else [route[-1]]
            leg, along = 0, 0.0
            if len(route) == 1:
                continue
        a_lat, a_lon = grid.node(*route[leg])
        b_lat, b_lon = grid.node(*route[leg + 1])
        leg_m = math.hypot((b_lat - a_lat) * _M_PER_DEG, (b_lon - a_lon) * kx)
        f = min(along / leg_m, 1.0)
        true_lat.append(a_lat + f * (b_lat - a_lat))
        true_lon.append(a_lon + f * (b_lon - a_lon))
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
            if rng.random() < profile.stop_probability:
                stop_left = rng.randint(*profile.stop_s)
            if leg + 1 < len(route):
                a_lat, a_lon = grid.node(*route[leg])
                b_lat, b_lon = grid.node(*route[leg + 1])
                leg_m = math.hypot((b_lat - a_lat) * _M_PER_DEG, (b_lon - a_lon) * kx)
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
