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
listed with the reason. Pure: the caller hands in the graph (the worker's cache).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Final

from geo.streets.graph import StreetGraph
from geo.streets.route import describe
from geo.streets.search import NoStreetRoute, OffNetwork, Snap, search, snap

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


def streets_of(graph: StreetGraph, pieces: Any) -> list[dict[str, Any]]:
    """The streets a route takes, by name (unnamed ways as ""), longest first."""
    metres: dict[str, float] = defaultdict(float)
    exposure: dict[str, float] = defaultdict(float)
    separated: dict[str, float] = defaultdict(float)
    for piece in pieces:
        s = piece.segment
        name = graph.seg_name[s] or ""
        m = piece.share * float(graph.seg_length_m[s])
        metres[name] += m
        exposure[name] += m * float(graph.seg_danger[s]) / 100.0
        separated[name] += m if graph.seg_separated[s] else 0.0
    rows = [
        {
            "name": name,
            "lengthM": round(m, 1),
            "meanDanger": round(100.0 * exposure[name] / m, 1) if m > 0 else 0.0,
            "separatedM": round(separated[name], 1),
        }
        for name, m in metres.items()
        if m > 0
    ]
    return sorted(rows, key=lambda r: (-r["lengthM"], r["name"]))


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


def approaches(graph: StreetGraph, lat: float, lon: float, *, radius_m: float) -> list[dict[str, Any]]:
    """The child-profile route from each compass point ``radius_m`` out to the school at (lat, lon)."""
    out: list[dict[str, Any]] = []
    try:
        school = snap(graph, lat, lon, field="school")
    except OffNetwork:
        return [
            {"from": c, "routed": False, "reason": "the school is off the street network"} for c in COMPASS
        ]
    for n, label in enumerate(COMPASS):
        found = _start(graph, lat, lon, 45.0 * n, radius_m)
        if found is None:
            out.append({"from": label, "routed": False, "reason": "no street on this bearing"})
            continue
        distance, slat, slon, start = found
        entry: dict[str, Any] = {
            "from": label,
            "startLat": round(slat, 6),
            "startLon": round(slon, 6),
            "startDistanceM": distance,
        }
        try:
            cost, pieces = search(graph, start, school, PROFILE)
        except NoStreetRoute:
            out.append(entry | {"routed": False, "reason": "no street route joins this point to the school"})
            continue
        route = describe(graph, pieces, PROFILE, cost)
        out.append(
            entry
            | {"routed": True, "profile": PROFILE}
            | route.figures()
            | {"streets": streets_of(graph, route.pieces), "geometry": route.geometry}
        )
    return out
