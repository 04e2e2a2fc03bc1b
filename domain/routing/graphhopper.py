"""The street danger as a GraphHopper custom model, so that a city can feed its own routing engine.

GraphHopper weighs an edge ``distance / (speed * priority)``; a custom model
multiplies ``priority`` (0 to 1) with rules over the edge's encoded values and
over ``areas`` (a GeoJSON FeatureCollection of Polygons, each usable as
``in_<id>``). GraphHopper knows no H3 cell and no SafeRoutes danger, so the
model states ours in what it knows (docs/streets.md, "GraphHopper export"):

1. **Infrastructure priors by road class**, from :mod:`domain.streets.rules`:
   each class's danger prior (:func:`prior_danger` of the infrastructure and
   speed our import gives a way of that class without cycleway tags) turned
   into the profile's relative cost ``1 + lam * danger / 100``; priority is the
   cheapest class's cost over the class's cost, so a cycleway keeps 1.
2. **Measured danger as areas**: the cells whose danger reaches
   ``AREA_MIN_DANGER``, joined per band of 25 points into polygons
   (``h3.cells_to_h3shape``); each polygon's priority multiplier is
   ``1 / (1 + lam * mean_danger / 100)``. At most ``MAX_AREAS`` polygons, the
   most dangerous first: a model stays small enough to send per request.
3. **The child profile** multiplies streets above 30 km/h without a cycle track
   by ``1 / CHILD_FAST_FACTOR``, like the router.

The danger is the router's own (:func:`domain.routing.store.load_inputs`): the
last month's differentially private release and the public hazards, never a
ride. Numbers are written as strings, as GraphHopper's documentation does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from domain.core.errors import InvalidInput
from domain.routing.store import load_inputs
from domain.streets.rules import (
    CHILD_FAST_FACTOR,
    CHILD_MAX_KMH,
    DANGER_WEIGHT,
    DEFAULT_MAXSPEED,
    PROFILES,
    Infrastructure,
    Profile,
    prior_danger,
)
from privacy.release.rules import ReleasePolicy

AREA_MIN_DANGER: Final = 50.0
"""Cells below this danger are left to the priors: a model of every ridden cell would be megabytes."""
BAND: Final = 25.0
MAX_AREAS: Final = 250
DISTANCE_INFLUENCE: Final[Mapping[Profile, int]] = {
    "shortest": 200,
    "balanced": 70,
    "safest": 30,
    "child": 20,
}
"""Seconds a kilometre of detour must save (GraphHopper's default is 70): the safer the profile, the
longer the detour it accepts, as ``lam`` does in our own router."""
UNSET_SPEED: Final = 150
"""GraphHopper's ``max_speed`` of a way without a ``maxspeed`` tag is above any sign (unlimited or
unset); a tagged limit is below this."""

ROAD_CLASSES: Final[Mapping[str, str]] = {
    "CYCLEWAY": "cycleway",
    "PATH": "path",
    "FOOTWAY": "footway",
    "PEDESTRIAN": "pedestrian",
    "BRIDLEWAY": "bridleway",
    "STEPS": "steps",
    "LIVING_STREET": "living_street",
    "RESIDENTIAL": "residential",
    "SERVICE": "service",
    "TRACK": "track",
    "UNCLASSIFIED": "unclassified",
    "TERTIARY": "tertiary",
    "SECONDARY": "secondary",
    "PRIMARY": "primary",
    "TRUNK": "trunk",
}
"""GraphHopper's ``road_class`` values and the OSM ``highway`` each stands for."""
_NO_MOTOR: Final = {"cycleway", "path", "footway", "pedestrian", "bridleway", "steps"}


@dataclass(frozen=True, slots=True)
class Exported:
    model: dict[str, Any]
    profile: Profile
    areas: int
    release_month: str


def class_prior(highway: str) -> float:
    """The danger prior our import gives a way of this class that has no cycleway tag."""
    if highway == "cycleway":
        return prior_danger(Infrastructure.SEPARATED, None)
    speed = None if highway in _NO_MOTOR else DEFAULT_MAXSPEED.get(highway, 50)
    quiet = highway in _NO_MOTOR or (speed is not None and speed <= CHILD_MAX_KMH)
    return prior_danger(Infrastructure.SHARED_QUIET if quiet else Infrastructure.NONE, speed)


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _class_rules(profile: Profile) -> list[dict[str, str]]:
    lam = DANGER_WEIGHT[profile]
    if lam == 0:
        return []
    cost = {gh: 1.0 + lam * class_prior(osm) / 100.0 for gh, osm in ROAD_CLASSES.items()}
    best = min(cost.values())
    by_factor: dict[str, list[str]] = defaultdict(list)
    for gh, c in cost.items():
        if best / c < 0.999:
            by_factor[_number(best / c)].append(gh)
    rules: list[dict[str, str]] = []
    for text, classes in sorted(by_factor.items(), key=lambda kv: -float(kv[0])):
        condition = " || ".join(f"road_class == {c}" for c in classes)
        rules.append({"else_if" if rules else "if": condition, "multiply_by": text})
    # a quiet class whose sign says more than 30 km/h (a residential street tagged 50) is a loud one
    quiet_classes = [gh for gh, osm in ROAD_CLASSES.items() if osm not in _NO_MOTOR and class_prior(osm) < 40]
    quiet = cost["RESIDENTIAL"]
    loud = 1.0 + lam * prior_danger(Infrastructure.NONE, 50) / 100.0
    either = " || ".join(f"road_class == {c}" for c in quiet_classes)
    rules.append(
        {
            "if": f"({either}) && max_speed > {CHILD_MAX_KMH} && max_speed < {UNSET_SPEED}",
            "multiply_by": _number(min(1.0, quiet / loud)),
        }
    )
    return rules


def _child_rules() -> list[dict[str, str]]:
    fast = [gh for gh, osm in ROAD_CLASSES.items() if (DEFAULT_MAXSPEED.get(osm) or 0) > CHILD_MAX_KMH]
    untagged_fast = " || ".join(f"road_class == {c}" for c in fast)
    condition = (
        f"road_class != CYCLEWAY && max_speed > {CHILD_MAX_KMH} && "
        f"(max_speed < {UNSET_SPEED} || {untagged_fast})"
    )
    return [{"if": condition, "multiply_by": _number(1.0 / CHILD_FAST_FACTOR)}]


def danger_areas(
    danger: Mapping[str, float], profile: Profile
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The polygons of the cells at ``AREA_MIN_DANGER`` or more, per band, and their priority rules."""
    lam = DANGER_WEIGHT[profile]
    bands: dict[tuple[int, int], set[str]] = defaultdict(set)
    top = int(100 // BAND) - 1
    for cell, value in danger.items():
        if value >= AREA_MIN_DANGER:
            bands[min(int(value // BAND), top), h3.get_resolution(cell)].add(cell)
    found: list[tuple[float, int, list[list[list[float]]]]] = []
    for (band, res), cells in bands.items():
        for polygon in h3.cells_to_h3shape(list(cells), tight=False).polys:
            inside = cells.intersection(h3.h3shape_to_cells(polygon, res))
            mean = sum(danger[c] for c in inside) / len(inside) if inside else band * BAND
            rings = [_ring(polygon.outer), *(_ring(hole) for hole in polygon.holes)]
            found.append((mean, band, rings))
    found.sort(key=lambda item: -item[0])
    features: list[dict[str, Any]] = []
    rules: list[dict[str, str]] = []
    for n, (mean, band, rings) in enumerate(found[:MAX_AREAS], start=1):
        area_id = f"danger{int(band * BAND)}_{n}"
        features.append(
            {
                "type": "Feature",
                "id": area_id,
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": rings},
            }
        )
        if lam > 0:
            rules.append({"if": f"in_{area_id}", "multiply_by": _number(1.0 / (1.0 + lam * mean / 100.0))})
    return features, rules


def _ring(latlngs: tuple[tuple[float, float], ...]) -> list[list[float]]:
    """h3's (lat, lng) loop as a closed GeoJSON ring, ``[lng, lat]``, counter-clockwise outside."""
    ring = [[round(lng, 7), round(lat, 7)] for lat, lng in latlngs]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def custom_model(danger: Mapping[str, float], profile: Profile) -> tuple[dict[str, Any], int]:
    """The custom model for ``profile`` from cell danger (0-100), and how many areas it holds."""
    # the shortest profile ignores danger: areas no rule uses would only weigh on GraphHopper's lookups
    features, area_rules = danger_areas(danger, profile) if DANGER_WEIGHT[profile] > 0 else ([], [])
    priority = _class_rules(profile) + area_rules
    if profile == "child":
        priority += _child_rules()
    model: dict[str, Any] = {"priority": priority, "distance_influence": DISTANCE_INFLUENCE[profile]}
    if features:
        model["areas"] = {"type": "FeatureCollection", "features": features}
    return model, len(features)


async def export_model(
    session: AsyncSession, profile: str, *, now: datetime, resolution: int, policy: ReleasePolicy
) -> Exported:
    """The model from the router's inputs: the last month's release (made now if it never was)."""
    if profile not in PROFILES:
        raise InvalidInput(
            "profile", f"profile must be one of {', '.join(PROFILES)}.", code="unknown-profile"
        )
    inputs = await load_inputs(session, now=now, resolution=resolution, policy=policy)
    chosen: Profile = next(p for p in PROFILES if p == profile)
    model, areas = custom_model(inputs.danger, chosen)
    month = inputs.stamp.released_month.strftime("%Y-%m")
    return Exported(model=model, profile=chosen, areas=areas, release_month=month)
