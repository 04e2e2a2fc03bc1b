"""The route report of one school: the dangerous cells around it that people ride, most dangerous first.

Definitions (docs/danger-model.md, "Route reports"):
- the school's surroundings are the cells whose centre lies within
  ``CATCHMENT_M`` of the school: the streets children take on their last
  kilometre or so, where most of them converge;
- a cell is reported when a public hazard lies in it or the city's latest
  monthly release (`privacy.release`) shows people riding it, with the
  released figures (shared out from the release's resolution) and the cell's
  danger score from them and the public hazards.

Why not "the cells the school's own children ride", as the report once said:
that set is drawn from a few dozen children, and no release of it can both
protect each child and show anything (at epsilon 1 a cell needs about 60-90
people to pass the release's threshold, more than ride most streets to one
school). The city release is the one that already exists and is already
charged to the budget; post-processing it around the school costs nothing.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from domain.core.errors import NotFound
from domain.danger.rules import danger_score
from domain.danger.store import active_hazards, released_inputs
from domain.planner.rules import ExportFormat
from domain.schools.tables import School
from geo.cells import BBox
from geo.export import ExportValue, csv_cells, geojson_cells
from geo.points import haversine_m
from privacy.release.rules import ReleasePolicy, Window, last_closed_month
from privacy.release.service import Served, obtain
from privacy.release.tables import Dataset

CATCHMENT_M: Final = 1500.0
ROUTE_COLUMNS: Final = (
    "danger",
    "hazards",
    "maxSeverity",
    "reports",
    "rides",
    "contributors",
    "distanceM",
)


@dataclass(frozen=True, slots=True)
class RouteReport:
    school: School
    served: Served
    cells: list[tuple[str, dict[str, ExportValue]]]


def cells_near(lat: float, lon: float, resolution: int, radius_m: float = CATCHMENT_M) -> list[str]:
    """Cells of ``resolution`` whose centre lies within ``radius_m`` of the point."""
    spacing = h3.average_hexagon_edge_length(resolution, unit="m") * math.sqrt(3)
    disk = h3.grid_disk(h3.latlng_to_cell(lat, lon, resolution), math.ceil(radius_m / spacing) + 1)
    return sorted(c for c in disk if haversine_m(lat, lon, *h3.cell_to_latlng(c)) <= radius_m)


def report_bytes(
    report: RouteReport,
    fmt: ExportFormat,
    *,
    now: datetime,
    street_routes: list[dict[str, Any]] | None = None,
) -> bytes:
    """The report as a GeoJSON FeatureCollection (school, catchment and release as metadata) or CSV.

    With a street network, the GeoJSON carries ``streetRoutes`` (domain.planner.street_routes): the
    routes into the school from its catchment's edge, street by street; ``null`` without one. The
    CSV holds the cells only."""
    if fmt is ExportFormat.CSV:
        return b"".join(csv_cells(report.cells, columns=ROUTE_COLUMNS))
    meta: dict[str, ExportValue] = {"school": report.school.name, "catchmentM": CATCHMENT_M}
    meta.update(report.served.describe())
    meta["generatedAt"] = now
    document = json.loads(b"".join(geojson_cells(report.cells, metadata=meta)))
    document["streetRoutes"] = street_routes  # a foreign member (RFC 7946 §6.1), like the metadata
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _around(lat: float, lon: float, radius_m: float) -> BBox:
    dlat = radius_m / 111_000 + 0.001
    dlon = radius_m / (111_000 * max(math.cos(math.radians(lat)), 0.01)) + 0.001
    return BBox(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


async def route_report(
    session: AsyncSession,
    school_id: uuid.UUID,
    *,
    policy: ReleasePolicy,
    now: datetime,
    window: Window | None = None,
    resolution: int = 10,
    actor_id: uuid.UUID | None = None,
    actor_role: str = "planner",
) -> RouteReport:
    """The cells around the school with a hazard or released riders, most dangerous first, from the
    release of ``window`` (default: the last whole month)."""
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound("No such school.", code="school-not-found")
    resolution = max(resolution, policy.resolution)
    served = await obtain(
        session,
        Dataset.CELLS,
        window or last_closed_month(now.date()),
        policy,
        now=now,
        actor_id=actor_id,
        actor_role=actor_role,
    )
    near = set(cells_near(school.lat, school.lon, resolution))
    hazards = await active_hazards(
        session,
        resolution=resolution,
        bbox=_around(school.lat, school.lon, CATCHMENT_M),
        until_day=served.window.last,
    )
    parents = {h3.str_to_int(h3.cell_to_parent(c, policy.resolution)) for c in near}
    around = {c: v for c, v in served.cells().items() if c in parents}
    inputs = released_inputs(around, {c: h for c, h in hazards.items() if c in near}, resolution)
    scored = []
    for cell, cell_inputs in inputs.items():
        if cell not in near:
            continue
        props = danger_score(cell_inputs, now).properties()
        distance = haversine_m(school.lat, school.lon, *h3.cell_to_latlng(cell))
        values: dict[str, ExportValue] = {name: props[name] for name in ROUTE_COLUMNS[:-1]}
        values["distanceM"] = round(distance)
        scored.append((-float(props["danger"]), distance, cell, values))
    scored.sort(key=lambda item: item[:3])
    return RouteReport(school, served, [(cell, values) for _, _, cell, values in scored])
