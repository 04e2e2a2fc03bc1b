"""Which cells an export covers: the ``bbox`` filter and the resolutions planners may ask for.

A bbox arrives as ``"minLon,minLat,maxLon,maxLat"`` (the order of RFC 7946
§5 and of ``GET /hazards``). h3 v4 speaks ``(lat, lng)``: :func:`bbox_cells`
is the one place here that builds h3 shapes, and it names what it swaps.

Errors are :class:`geo.errors.FieldError` on ``bbox`` (or ``res``), which the
API already turns into a 422 problem document naming the field. A box that is
too large is refused rather than clipped, so an export never silently covers
less than the planner asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import h3

from geo.errors import FieldError
from geo.points import EARTH_RADIUS_M

MIN_EXPORT_RESOLUTION: Final = 7
MAX_EXPORT_RESOLUTION: Final = 10
"""Res 7 (≈ 5 km² cells) is the coarsest view that still says where in a city; res 10 is what rides are
stored at, so nothing finer exists."""

DEFAULT_MAX_BBOX_AREA_KM2: Final = 2_500.0
"""A 50 km * 50 km box: a city and its commuter belt. At res 10 that is ≈ 166 000 cells, the largest export
the streaming encoders are benchmarked for (bench/heatmap.py); a region needs several requests or res 7."""

_EARTH_RADIUS_KM: Final = EARTH_RADIUS_M / 1000.0


@dataclass(frozen=True, slots=True)
class BBox:
    """A WGS84 box, west-south-east-north, in degrees. It never crosses the antimeridian."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def area_km2(self) -> float:
        """Exact area on a spherical Earth (a lat/lon box is a zone slice, no projection needed)."""
        dlon = math.radians(self.max_lon - self.min_lon)
        band = math.sin(math.radians(self.max_lat)) - math.sin(math.radians(self.min_lat))
        return _EARTH_RADIUS_KM**2 * dlon * band

    def contains(self, lat: float, lon: float) -> bool:
        """Edges included, so cells whose centre sits on a shared edge appear in both neighbouring boxes."""
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


def parse_bbox(text: str, *, max_area_km2: float = DEFAULT_MAX_BBOX_AREA_KM2, field: str = "bbox") -> BBox:
    """Parse and check ``"minLon,minLat,maxLon,maxLat"``.

    Refused: not four finite numbers, outside WGS84, empty or inverted (which
    would mean crossing the antimeridian, unsupported), or larger than
    ``max_area_km2``. Messages name the rule, not the coordinates.
    """
    parts = text.split(",")
    if len(parts) != 4:
        raise FieldError(field, "expected four comma-separated numbers: minLon,minLat,maxLon,maxLat")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise FieldError(field, "every bbox value must be a number") from None
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise FieldError(field, "every bbox value must be a finite number")
    if not (-180.0 <= min_lon <= 180.0 and -180.0 <= max_lon <= 180.0):
        raise FieldError(field, "longitudes must lie within [-180, 180]")
    if not (-90.0 <= min_lat <= 90.0 and -90.0 <= max_lat <= 90.0):
        raise FieldError(field, "latitudes must lie within [-90, 90]")
    if min_lon >= max_lon or min_lat >= max_lat:
        raise FieldError(
            field,
            "minLon must be below maxLon and minLat below maxLat (boxes across the antimeridian are "
            "not supported)",
        )
    box = BBox(min_lon, min_lat, max_lon, max_lat)
    if box.area_km2() > max_area_km2:
        raise FieldError(field, f"the box is larger than the {max_area_km2:g} km² an export may cover")
    return box


def check_resolution(res: int, *, field: str = "res") -> int:
    """Exports exist at resolutions 7 to 10 only (see the constants for why)."""
    if isinstance(res, bool) or not MIN_EXPORT_RESOLUTION <= res <= MAX_EXPORT_RESOLUTION:
        raise FieldError(field, f"resolution must be {MIN_EXPORT_RESOLUTION} to {MAX_EXPORT_RESOLUTION}")
    return res


def bbox_cells(box: BBox, resolution: int) -> set[str]:
    """The cells of ``resolution`` whose centre lies in ``box`` (h3's polygon rule).

    ``h3.LatLngPoly`` takes ``(lat, lng)`` tuples, hence the swap below.
    """
    ring = [
        (box.min_lat, box.min_lon),
        (box.min_lat, box.max_lon),
        (box.max_lat, box.max_lon),
        (box.max_lat, box.min_lon),
    ]
    return set(h3.h3shape_to_cells(h3.LatLngPoly(ring), resolution))


def cell_in_bbox(cell: str, box: BBox) -> bool:
    """The centre rule of :func:`bbox_cells` for one cell, to filter rows without enumerating the box.

    The two may disagree only for a centre exactly on an edge, which this side includes.
    """
    lat, lon = h3.cell_to_latlng(cell)
    return box.contains(lat, lon)


__all__ = [
    "DEFAULT_MAX_BBOX_AREA_KM2",
    "MAX_EXPORT_RESOLUTION",
    "MIN_EXPORT_RESOLUTION",
    "BBox",
    "bbox_cells",
    "cell_in_bbox",
    "check_resolution",
    "parse_bbox",
]
