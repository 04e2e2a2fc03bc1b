"""Privacy zones: circles (home, school, work) inside which no trace is kept.

Removing the fixes is not enough on its own: the cell path of the remaining
fixes must not be bridged across the zone (that would draw a line through the
user's front door), so the trace is split where it enters a zone, and any
cell whose centre lies in a zone is dropped as well (a fast car's two fixes
either side of a small zone could otherwise be joined by filled cells).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from geo.errors import FieldError
from geo.points import BoolArray, Columns, haversine_array_m, haversine_m

MIN_ZONE_RADIUS_M = 50.0
"""Below this a zone is smaller than one H3 res-10 cell and protects nothing."""
MAX_ZONE_RADIUS_M = 2000.0
"""Above this a zone would swallow whole neighbourhoods' worth of other people's streets."""


class ZoneError(FieldError):
    """A privacy zone definition breaks a rule; ``field`` names the bad member."""


@dataclass(frozen=True, slots=True)
class PrivacyZone:
    """A circle in WGS84 degrees and metres. Build through :func:`make_zone` to validate."""

    lat: float
    lon: float
    radius_m: float

    def contains(self, lat: float, lon: float) -> bool:
        """Whether a position lies inside (or on the edge of) the zone."""
        return haversine_m(self.lat, self.lon, lat, lon) <= self.radius_m


def make_zone(
    lat: float,
    lon: float,
    radius_m: float,
    *,
    min_radius_m: float = MIN_ZONE_RADIUS_M,
    max_radius_m: float = MAX_ZONE_RADIUS_M,
) -> PrivacyZone:
    """Validate and build a zone; the error's field is the request member (``lat``, ``radiusM``)."""
    for name, value, low, high in (
        ("lat", lat, -90.0, 90.0),
        ("lon", lon, -180.0, 180.0),
        ("radiusM", radius_m, min_radius_m, max_radius_m),
    ):
        if not math.isfinite(value):
            raise ZoneError(name, "must be a finite number")
        if not low <= value <= high:
            raise ZoneError(name, f"must be between {low:g} and {high:g}")
    return PrivacyZone(lat, lon, radius_m)


def outside_zones(cols: Columns, zones: Sequence[PrivacyZone]) -> BoolArray:
    """Mask of the fixes lying outside every zone."""
    keep = np.ones(len(cols), dtype=bool)
    for zone in zones:
        keep &= haversine_array_m(zone.lat, zone.lon, cols.lat, cols.lon) > zone.radius_m
    return keep


def in_any_zone(lat: float, lon: float, zones: Sequence[PrivacyZone]) -> bool:
    """Whether a position lies in at least one zone (used on cell centres)."""
    return any(zone.contains(lat, lon) for zone in zones)
