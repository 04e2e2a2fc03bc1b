"""Street rules as pure functions over OSM tags: who may use a way, which way, how fast, how safe.

Everything a street segment is judged by sits here (docs/streets.md explains the choices):
- which ``highway`` values carry bicycles or pedestrians at all (:data:`ROUTABLE`), and how
  ``access``, ``bicycle``, ``foot`` and ``area`` narrow or widen that (:func:`classify`);
- the bicycle's one-way rules: ``oneway``, ``junction=roundabout``, and the exemptions
  ``oneway:bicycle=no`` and ``cycleway*=opposite*`` (:func:`bicycle_directions`);
- the infrastructure class: separated, painted lane, shared quiet street, none (:func:`infrastructure`);
- the speed limit, parsed from ``maxspeed`` or derived from the highway type (:data:`DEFAULT_MAXSPEED`);
- the danger prior of a segment nobody has ridden yet, and how measured danger joins it
  (:data:`PRIOR_DANGER`, :func:`combined_danger`);
- the per-metre cost of a segment under each profile (:func:`cost_factor`).

No database, no I/O: the import (``service``) and the router (``domain.routing``) call these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, get_args

from domain.core.errors import DomainError


class Infrastructure(StrEnum):
    """What separates a cyclist from motor traffic on a segment, best first."""

    SEPARATED = "separated"
    """A cycle track or path of its own (``highway=cycleway``, ``cycleway=track``, a designated path)."""
    LANE = "lane"
    """A painted lane or a shared bus lane on the carriageway."""
    SHARED_QUIET = "shared_quiet"
    """Mixed traffic at 30 km/h or less (living streets, 30 zones, cycle streets, tracks, service roads)."""
    NONE = "none"
    """Mixed traffic above 30 km/h."""


ROUTABLE: Final[frozenset[str]] = frozenset(
    {
        "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link",
        "tertiary", "tertiary_link", "unclassified", "residential", "living_street", "service",
        "road", "track", "cycleway", "path", "footway", "pedestrian", "bridleway", "steps",
        "busway",
    }
)  # fmt: skip
"""Highway values a bicycle or a pedestrian may use by default or by a tag; motorways never."""

_BICYCLE_DEFAULT_NO: Final = frozenset(
    {"trunk", "trunk_link", "footway", "pedestrian", "bridleway", "steps", "busway"}
)
"""Bicycles only with an explicit ``bicycle=yes|designated|permissive``.

Trunk roads: many countries forbid or discourage cycling on them, and a child's route should never
rely on one unless the map says so. Footways and pedestrian streets: cycling is not allowed by
default in Belgium or Finland."""
_FOOT_DEFAULT_NO: Final = frozenset({"trunk", "trunk_link", "cycleway", "busway"})
_NO_MOTOR: Final = frozenset({"cycleway", "path", "footway", "pedestrian", "bridleway", "steps"})

_YES: Final = frozenset({"yes", "designated", "permissive", "official", "destination", "customers"})
_NO: Final = frozenset(
    {"no", "private", "use_sidepath", "dismount", "discouraged", "agricultural", "forestry"}
)

DEFAULT_MAXSPEED: Final[Mapping[str, int]] = {
    "trunk": 90, "trunk_link": 70, "primary": 50, "primary_link": 50, "secondary": 50,
    "secondary_link": 50, "tertiary": 50, "tertiary_link": 50, "unclassified": 50, "road": 50,
    "residential": 30, "living_street": 20, "service": 20, "track": 30, "busway": 50,
}  # fmt: skip
"""km/h where ``maxspeed`` is missing or unreadable: the urban limit for through roads (50), a 30
zone for residential streets (the rule in Brussels since 2021, most of Flanders' and Helsinki's
residential streets), walking-pace-like figures for living streets and service roads. A tagged
``maxspeed`` always wins. Ways without motor traffic (cycleways, paths, footways) have none."""

_ZONES: Final[Mapping[str, int]] = {
    "urban": 50, "rural": 90, "zone30": 30, "zone:30": 30, "zone20": 20, "zone:20": 20,
    "living_street": 20, "bicycle_road": 30, "cyclestreet": 30, "walk": 6, "motorway": 120,
    "trunk": 90, "school": 30,
}  # fmt: skip
_NUMBER: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$")

PRIOR_DANGER: Final[Mapping[Infrastructure, float]] = {
    Infrastructure.SEPARATED: 5.0,
    Infrastructure.LANE: 20.0,
    Infrastructure.SHARED_QUIET: 25.0,
    Infrastructure.NONE: 45.0,
}
"""The 0-100 danger a segment has before anyone rode it, by its infrastructure (:func:`prior_danger`).

Ordered as the issue asks (separated < lane < 30 km/h street < 50 km/h street without
infrastructure), close to the relative crash risks reported for these facility types (a cycle
track roughly halves the risk of a 50 km/h street without one, a painted lane removes a part)."""
FAST_EXTRA_PER_KMH: Final = 0.5
"""Danger added per km/h above 50 on a segment without separated infrastructure (a 70 km/h road: +10)."""

Profile = Literal["shortest", "balanced", "safest", "child"]
PROFILES: Final[tuple[Profile, ...]] = get_args(Profile)
DANGER_WEIGHT: Final[Mapping[Profile, float]] = {
    "shortest": 0.0,
    "balanced": 0.7,
    "safest": 2.0,
    "child": 2.0,
}
"""``lam`` of the cell router: a metre at danger 100 costs ``1 + lam`` metres (docs/routing.md)."""
CHILD_FAST_FACTOR: Final = 25.0
"""The child profile's multiplier on a street above 30 km/h without separated infrastructure:
a 200 m stretch of such a street costs as much as a 5 km detour, so the route takes the detour
whenever one exists, and the street only when nothing else joins the two points (a forbidden
street would leave some homes without any route to school)."""
CHILD_MAX_KMH: Final = 30


class UnreadableExtract(DomainError):
    """The file given to ``saferoutes streets import`` is no readable OSM extract."""

    code = "unreadable-extract"
    title = "Unreadable OSM extract"


@dataclass(frozen=True, slots=True)
class WayRules:
    """What the tags of one way say, once: the figures each of its segments carries."""

    highway: str
    name: str | None
    bicycle_forward: bool
    bicycle_backward: bool
    foot: bool
    infrastructure: Infrastructure
    maxspeed_kmh: int | None
    maxspeed_tagged: bool
    surface: str | None
    lit: bool | None


def _allowed(tags: Mapping[str, str], mode: str, default: bool) -> bool:
    own = tags.get(mode)
    if own is not None:
        return own in _YES
    access = tags.get("access")
    if access in _NO or access == "no":
        return False
    return default


def parse_maxspeed(value: str | None) -> int | None:
    """``maxspeed`` in km/h: numbers, ``mph``, and country zones like ``BE:urban`` or ``DE:zone30``."""
    if value is None:
        return None
    value = value.strip().lower()
    if (match := _NUMBER.match(value)) is not None:
        speed = float(match[1]) * (1.609344 if match[2] == "mph" else 1.0)
        return round(speed) if 0 < speed <= 300 else None
    for zone in (value, value.split(":", 1)[-1], value.rsplit(":", 1)[-1]):
        if zone in _ZONES:
            return _ZONES[zone]
    return None


def bicycle_directions(tags: Mapping[str, str], highway: str) -> tuple[bool, bool]:
    """May a bicycle ride the way forward (along its nodes), backward? Before the legality check."""
    oneway = tags.get("oneway", "")
    if tags.get("junction") in {"roundabout", "circular"} and oneway != "no":
        oneway = "yes"
    if highway in {"motorway", "motorway_link"} and oneway == "":
        oneway = "yes"
    exempt = tags.get("oneway:bicycle") == "no" or any(
        tags.get(key, "").startswith("opposite")
        for key in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
    )
    if tags.get("oneway:bicycle") in {"yes", "-1"}:
        oneway, exempt = tags["oneway:bicycle"], False
    if exempt or oneway in {"", "no", "false", "0", "reversible", "alternating"}:
        return True, True
    if oneway in {"-1", "reverse"}:
        return False, True
    return True, False


def infrastructure(tags: Mapping[str, str], highway: str, maxspeed_kmh: int | None) -> Infrastructure:
    """The best separation a cyclist has on this way (:class:`Infrastructure`)."""
    sides = [tags.get(k, "") for k in ("cycleway", "cycleway:both", "cycleway:left", "cycleway:right")]
    if highway == "cycleway" or any(s == "track" for s in sides):
        return Infrastructure.SEPARATED
    if highway in _NO_MOTOR and tags.get("bicycle") == "designated":
        return Infrastructure.SEPARATED
    if highway in _NO_MOTOR:
        return Infrastructure.SHARED_QUIET
    if any(s in {"lane", "opposite_lane", "share_busway", "shared_lane"} for s in sides):
        return Infrastructure.LANE
    quiet = tags.get("bicycle_road") == "yes" or tags.get("cyclestreet") == "yes"
    if quiet or (maxspeed_kmh is not None and maxspeed_kmh <= CHILD_MAX_KMH):
        return Infrastructure.SHARED_QUIET
    return Infrastructure.NONE


def carries_motor_traffic(highway: str) -> bool:
    """May motor vehicles drive a way of this ``highway`` kind (paths, footways, cycleways, busways:
    no)? A way's own ``motor_vehicle`` tags are not kept: for simulated car trips, not for routing."""
    return highway in ROUTABLE and highway not in _NO_MOTOR and highway not in {"busway", "track"}


def classify(tags: Mapping[str, str]) -> WayRules | None:
    """The way's rules, or None when neither a bicycle nor a pedestrian may use it."""
    highway = tags.get("highway")
    if highway not in ROUTABLE or tags.get("area") == "yes":
        return None
    bicycle = _allowed(tags, "bicycle", highway not in _BICYCLE_DEFAULT_NO)
    foot = _allowed(tags, "foot", highway not in _FOOT_DEFAULT_NO)
    if highway == "steps" and tags.get("bicycle") not in {"yes", "designated"}:
        bicycle = False
    if not (bicycle or foot):
        return None
    forward, backward = bicycle_directions(tags, highway) if bicycle else (False, False)
    tagged = parse_maxspeed(tags.get("maxspeed"))
    default = None if highway in _NO_MOTOR else DEFAULT_MAXSPEED.get(highway, 50)
    maxspeed = tagged if tagged is not None and highway not in _NO_MOTOR else default
    lit = tags.get("lit")
    return WayRules(
        highway=highway,
        name=tags.get("name") or tags.get("ref"),
        bicycle_forward=forward,
        bicycle_backward=backward,
        foot=foot,
        infrastructure=infrastructure(tags, highway, maxspeed),
        maxspeed_kmh=maxspeed,
        maxspeed_tagged=tagged is not None and highway not in _NO_MOTOR,
        surface=tags.get("surface"),
        lit=None if lit is None else lit not in {"no", "disused"},
    )


def prior_danger(infra: Infrastructure | str, maxspeed_kmh: int | None) -> float:
    """The 0-100 danger of a segment nobody has ridden: :data:`PRIOR_DANGER`, more above 50 km/h."""
    kind = Infrastructure(infra)
    base = PRIOR_DANGER[kind]
    if kind is not Infrastructure.SEPARATED and maxspeed_kmh is not None and maxspeed_kmh > 50:
        base += FAST_EXTRA_PER_KMH * (maxspeed_kmh - 50)
    return min(base, 100.0)


def combined_danger(prior: float, measured: float) -> float:
    """Prior and measured danger (both 0-100) joined as independent risks: ``1 - (1-p)(1-m)``.

    Equal to the prior where nobody rode, never below either, never above 100, rising with both.
    """
    p, m = min(max(prior, 0.0), 100.0) / 100.0, min(max(measured, 0.0), 100.0) / 100.0
    return 100.0 * (1.0 - (1.0 - p) * (1.0 - m))


def child_avoids(infra: Infrastructure | str, maxspeed_kmh: int | None) -> bool:
    """A street the child profile avoids: above 30 km/h without separated infrastructure."""
    fast = maxspeed_kmh is not None and maxspeed_kmh > CHILD_MAX_KMH
    return fast and Infrastructure(infra) is not Infrastructure.SEPARATED


def cost_factor(profile: Profile, danger: float, *, child_avoided: bool) -> float:
    """The profile's cost of one metre of a segment with this 0-100 danger: at least 1."""
    factor = 1.0 + DANGER_WEIGHT[profile] * min(max(danger, 0.0), 100.0) / 100.0
    if profile == "child" and child_avoided:
        factor *= CHILD_FAST_FACTOR
    return factor


HAZARD_COST_M: Final = 150.0
"""Metres a safer profile adds per open confirmed hazard on a segment, as on the cell graph."""
HAZARD_CAP: Final = 3


def segment_cost(
    profile: Profile, length_m: float, danger: float, hazards: int, *, child_avoided: bool
) -> float:
    """A whole segment's cost under ``profile``: its metres times :func:`cost_factor`, plus the hazards'
    surcharge (``lam * HAZARD_COST_M`` each, at most :data:`HAZARD_CAP`). Never below ``length_m``."""
    surcharge = DANGER_WEIGHT[profile] * HAZARD_COST_M * min(max(hazards, 0), HAZARD_CAP)
    return length_m * cost_factor(profile, danger, child_avoided=child_avoided) + surcharge
