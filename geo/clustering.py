"""Which existing hazard a new report belongs to: the rule that keeps one danger spot one hazard.

Pure: the service snaps the report (`report_cell`), loads the active hazards of
the report's category in `search_cells(cell)`, and asks `cluster_report`. The
rule, in order:

1. A hazard of the same category in the report's own cell wins, whatever the
   distance: a hazard *is* (cell, category) for the danger model, and this
   keeps at most one active hazard per cell and category (a partial unique
   index can then enforce it).
2. Otherwise the nearest hazard of that category in a ring-1 neighbour cell
   whose representative point lies within `max_distance_m` (default 30 m at
   resolution 10). This catches two reports of the same pothole that fall on
   either side of a cell edge, without chaining hazards across the city.
3. Otherwise None: the report starts a new hazard in its own cell.

The distance is measured to the hazard's representative point (its first
report's point, or the mean of its reports). A cell centre is only a fallback:
at resolution 10 (edges of 67 to 74 m in Belgium) a point outside a cell is
always more than the cell's inradius (about 60 m) from its centre, so with
centres alone rule 2 never fires below that distance.

Coordinates: arguments are named `lat` and `lon` explicitly; h3 v4 returns
(lat, lng) tuples, and nothing here speaks GeoJSON's [lon, lat].
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from uuid import UUID

import h3

DEFAULT_RESOLUTION: Final = 10
DEFAULT_MAX_JOIN_DISTANCE_M: Final = 30.0
"""Two phone GPS errors in a street canyon (10 to 15 m each): reports further apart than that are
probably of different spots; well under half a res-10 cell, so a join never reaches past the neighbour."""


class InvalidPoint(ValueError):
    """A coordinate outside WGS84 bounds or not a finite number.

    The message never repeats the value: a reporter's position is personal data and errors end up in logs.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class HazardCandidate:
    """An active hazard near the report, as the service loaded it.

    `lat`/`lon` is its representative point; leave them None to fall back to
    the cell centre (see the module docstring for why that rarely joins).
    """

    hazard_id: UUID
    category: str
    cell: str
    lat: float | None = None
    lon: float | None = None

    def point(self) -> tuple[float, float]:
        """(lat, lon) of the representative point, or of the cell centre."""
        if self.lat is not None and self.lon is not None:
            return (self.lat, self.lon)
        lat, lng = h3.cell_to_latlng(self.cell)
        return (float(lat), float(lng))


@dataclass(frozen=True, slots=True)
class ClusterDecision:
    """`hazard_id` None means: create a new hazard in `cell`."""

    cell: str
    hazard_id: UUID | None
    distance_m: float | None
    same_cell: bool


def _check_point(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidPoint("lat", "must be a number from -90 to 90")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidPoint("lon", "must be a number from -180 to 180")


def report_cell(lat: float, lon: float, resolution: int = DEFAULT_RESOLUTION) -> str:
    """The H3 cell a report is snapped to."""
    _check_point(lat, lon)
    return str(h3.latlng_to_cell(lat, lon, resolution))


def search_cells(cell: str) -> frozenset[str]:
    """The cell and its ring-1 neighbours: where the service looks for hazards to join."""
    return frozenset(str(c) for c in h3.grid_disk(cell, 1))


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points, in metres."""
    return float(h3.great_circle_distance(a, b, unit="m"))


def cluster_report(
    lat: float,
    lon: float,
    category: str,
    candidates: Iterable[HazardCandidate],
    *,
    resolution: int = DEFAULT_RESOLUTION,
    max_distance_m: float = DEFAULT_MAX_JOIN_DISTANCE_M,
) -> ClusterDecision:
    """Decide whether the report at (lat, lon) joins one of `candidates` or starts a new hazard.

    Candidates of another category or outside the report's ring-1 disk are
    ignored, so the caller may pass a generous set. Ties are broken by
    distance, then by id, so the same input always gives the same answer.
    """
    cell = report_cell(lat, lon, resolution)
    disk = search_cells(cell)
    here = (lat, lon)
    eligible = [c for c in candidates if c.category == category and c.cell in disk]

    def nearest(pool: list[HazardCandidate]) -> tuple[HazardCandidate, float] | None:
        ranked = sorted(
            ((c, distance_m(here, c.point())) for c in pool), key=lambda x: (x[1], str(x[0].hazard_id))
        )
        return ranked[0] if ranked else None

    in_cell = nearest([c for c in eligible if c.cell == cell])
    if in_cell is not None:
        return ClusterDecision(
            cell=cell, hazard_id=in_cell[0].hazard_id, distance_m=in_cell[1], same_cell=True
        )

    nearby = nearest([c for c in eligible if c.cell != cell])
    if nearby is not None and nearby[1] <= max_distance_m:
        return ClusterDecision(
            cell=cell, hazard_id=nearby[0].hazard_id, distance_m=nearby[1], same_cell=False
        )
    return ClusterDecision(cell=cell, hazard_id=None, distance_m=None, same_cell=False)
