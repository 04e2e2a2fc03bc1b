"""A school's route report on streets: the routes into the school from its catchment's edge, street by street.

Where children live is nobody's business but theirs, so the report does not route from
homes: it routes from eight points on the catchment's edge (north, north-east, …,
``CATCHMENT_M`` from the school; where the edge has no street, as at a shore or the extract's
border, the point with one nearest to it on the same bearing, down to ``MIN_START_M``) to the
school with the child profile, on the street
graph the router uses (its danger is the release's, joined with the infrastructure
priors: docs/streets.md). Each route says how long it is, its danger figures, the metres
on separated cycle tracks, and the streets it takes by name with their metres and mean
danger, longest first: the streets a planner would fix first to make the school
reachable. A compass point with no street near it, or none joined to the school, is
listed with the reason. Pure: the caller hands in the graph (the worker's cache), and
renders the approaches for the wire (api/planner/wire.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from geo.streets.graph import StreetGraph
from geo.streets.route import describe
from geo.streets.search import NoStreetRoute, OffNetwork, Piece, Snap, StreetRoute, search, snap

COMPASS: Final = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
PROFILE: Final = "child"
MIN_START_M: Final = 300.0
START_STEP_M: Final = 100.0
_M_PER_DEG: Final = 111_320.0


def compass_point(lat: float, lon: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """The point ``distance_m`` from (lat, lon) towards ``bearing_deg`` (local flat approximation: ≤ 2 km)."""
    b = math.radians(bearing_deg)
    dlat = distance_m * math.cos(b) / _M_PER_DEG
    dlon = distance_m * math.sin(b) / (_M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
    return lat + dlat, lon + dlon


@dataclass(frozen=True, slots=True)
class StreetShare:
    """The metres of a route on one street (unnamed ways together), their mean danger (0-100) and
    the metres of them on separated cycle tracks."""

    name: str | None
    length_m: float
    mean_danger: float
    separated_m: float


@dataclass(frozen=True, slots=True)
class Start:
    """Where an approach starts: the point ``distance_m`` out on its bearing that has a street."""

    lat: float
    lon: float
    distance_m: float


@dataclass(frozen=True, slots=True)
class Approach:
    """The child-profile route into the school from one compass point; without one, ``reason`` says why."""

    compass: str
    start: Start | None = None
    route: StreetRoute | None = None
    streets: tuple[StreetShare, ...] = ()
    reason: str = ""


def streets_of(graph: StreetGraph, pieces: Iterable[Piece]) -> tuple[StreetShare, ...]:
    """The streets a route takes, by name (unnamed ways together, as None), longest first (ties at
    0.1 m by name, unnamed first)."""
    metres: dict[str | None, float] = defaultdict(float)
    exposure: dict[str | None, float] = defaultdict(float)
    separated: dict[str | None, float] = defaultdict(float)
    for piece in pieces:
        s = piece.segment
        name = graph.seg_name[s] or None
        m = piece.share * float(graph.seg_length_m[s])
        metres[name] += m
        exposure[name] += m * float(graph.seg_danger[s]) / 100.0
        separated[name] += m if graph.seg_separated[s] else 0.0
    shares = [
        StreetShare(name, m, 100.0 * exposure[name] / m if m > 0 else 0.0, separated[name])
        for name, m in metres.items()
        if m > 0
    ]
    return tuple(sorted(shares, key=lambda r: (-round(r.length_m, 1), r.name or "")))


def _start(
    graph: StreetGraph, lat: float, lon: float, bearing: float, radius_m: float
) -> tuple[float, float, float, Snap] | None:
    """The point on ``bearing`` nearest ``radius_m`` out (never below ``MIN_START_M``) that has a street."""
    distance = radius_m
    while distance >= min(MIN_START_M, radius_m):
        slat, slon = compass_point(lat, lon, bearing, distance)
        try:
            return distance, slat, slon, snap(graph, slat, slon, field="from")
        except OffNetwork:
            distance -= START_STEP_M
    return None


def approaches(graph: StreetGraph, lat: float, lon: float, *, radius_m: float) -> list[Approach]:
    """The child-profile route from each compass point ``radius_m`` out to the school at (lat, lon)."""
    try:
        school = snap(graph, lat, lon, field="school")
    except OffNetwork:
        return [Approach(c, reason="the school is off the street network") for c in COMPASS]
    out: list[Approach] = []
    for n, label in enumerate(COMPASS):
        found = _start(graph, lat, lon, 45.0 * n, radius_m)
        if found is None:
            out.append(Approach(label, reason="no street on this bearing"))
            continue
        distance, slat, slon, snapped = found
        start = Start(slat, slon, distance)
        try:
            cost, pieces = search(graph, snapped, school, PROFILE)
        except NoStreetRoute:
            out.append(Approach(label, start, reason="no street route joins this point to the school"))
            continue
        route = describe(graph, pieces, PROFILE, cost)
        out.append(Approach(label, start, route, streets_of(graph, route.pieces)))
    return out
