"""The route report of one school: the cells its children ride through on the way to it, most dangerous first.

Definitions (docs/danger-model.md, "Route reports"):
- the school's children are the members of its classes (any age; under-13s
  count only with a guardian's research_sharing grant, like everyone's
  contributions count only with effective research_sharing consent);
- a ride goes *to the school* when it is a walk or bike ride whose last stored
  cell has its centre within ``SCHOOL_RADIUS_M`` of the school. Rides are
  trimmed by 150-250 m at both ends before they are stored, so the last cell is
  never the gate itself; 500 m keeps the trimmed rides and little else;
- a cell is reported only when at least k distinct children rode through it
  on such rides (the export k rule), with the number of those rides and
  children, and the cell's danger score and its inputs (from every consenting
  contributor, as in the heatmap).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

import h3
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from domain.core.enums import ConsentPurpose
from domain.core.errors import NotFound
from domain.danger.rules import CellInputs, danger_score
from domain.danger.store import cell_inputs, table_of
from domain.planner.rules import ExportFormat
from domain.rides.tables import EXPOSURE_MODES, Ride, RideCell
from domain.schools.tables import ClassMembership, School, SchoolClass
from geo.cells import BBox
from geo.export import ExportValue, csv_cells, geojson_cells
from geo.points import haversine_m
from privacy.consent.store import effective_consent_subquery

SCHOOL_RADIUS_M: Final = 500.0
ROUTE_COLUMNS: Final = (
    "danger",
    "routeRides",
    "routeChildren",
    "hazards",
    "maxSeverity",
    "nearMisses",
    "rides",
)


@dataclass(frozen=True, slots=True)
class RouteReport:
    school: School
    cells: list[tuple[str, dict[str, ExportValue]]]


def cells_near(lat: float, lon: float, resolution: int, radius_m: float = SCHOOL_RADIUS_M) -> list[str]:
    """Cells of ``resolution`` whose centre lies within ``radius_m`` of the point."""
    spacing = h3.average_hexagon_edge_length(resolution, unit="m") * math.sqrt(3)
    disk = h3.grid_disk(h3.latlng_to_cell(lat, lon, resolution), math.ceil(radius_m / spacing) + 1)
    return sorted(c for c in disk if haversine_m(lat, lon, *h3.cell_to_latlng(c)) <= radius_m)


def _route_cells_statement(
    school_id: uuid.UUID, near: list[int], *, k: int, today: date
) -> sa.Select[int, int, int]:
    """``(cell, rides, children)`` over the consenting children's rides that end near the school."""
    member, klass = table_of(ClassMembership), table_of(SchoolClass)
    ride, visit = table_of(Ride), table_of(RideCell)
    children = (
        sa.select(member.c.user_id)
        .join(klass, klass.c.id == member.c.class_id)
        .where(
            klass.c.school_id == school_id,
            member.c.user_id.in_(effective_consent_subquery(ConsentPurpose.RESEARCH_SHARING, today)),
        )
    )
    last_cell = (
        sa.select(visit.c.ride_id, visit.c.cell)
        .join(ride, ride.c.id == visit.c.ride_id)
        .where(ride.c.user_id.in_(children), ride.c.mode.in_([m.value for m in EXPOSURE_MODES]))
        .ext(distinct_on(visit.c.ride_id))
        .order_by(visit.c.ride_id, visit.c.seq.desc())
        .cte("last_cell")
    )
    trips = sa.select(last_cell.c.ride_id).where(last_cell.c.cell.in_(near)).cte("trips")
    r, v = ride.alias("r"), visit.alias("v")
    people = sa.func.count(sa.distinct(r.c.user_id))
    return (
        sa.select(
            v.c.cell, sa.cast(sa.func.count(sa.distinct(r.c.id)), sa.Integer), sa.cast(people, sa.Integer)
        )
        .select_from(trips.join(r, r.c.id == trips.c.ride_id).join(v, v.c.ride_id == trips.c.ride_id))
        .group_by(v.c.cell)
        .having(people >= k)
    )


def report_bytes(report: RouteReport, fmt: ExportFormat, *, k: int, now: datetime) -> bytes:
    """The report as a GeoJSON FeatureCollection (school name, radius and k as metadata) or CSV."""
    if fmt is ExportFormat.CSV:
        return b"".join(csv_cells(report.cells, columns=ROUTE_COLUMNS))
    meta: dict[str, ExportValue] = {
        "school": report.school.name,
        "radiusM": SCHOOL_RADIUS_M,
        "k": k,
        "generatedAt": now,
    }
    return b"".join(geojson_cells(report.cells, metadata=meta))


def _around(cells: list[str]) -> BBox:
    centres = [h3.cell_to_latlng(c) for c in cells]
    lats, lons = [p[0] for p in centres], [p[1] for p in centres]
    margin = 0.001
    return BBox(min(lons) - margin, min(lats) - margin, max(lons) + margin, max(lats) + margin)


async def route_report(
    session: AsyncSession, school_id: uuid.UUID, *, k: int, now: datetime, resolution: int = 10
) -> RouteReport:
    """The k-anonymous cells on the children's rides to the school, most dangerous first."""
    school = await session.get(School, school_id)
    if school is None:
        raise NotFound("No such school.", code="school-not-found")
    near = [h3.str_to_int(c) for c in cells_near(school.lat, school.lon, resolution)]
    stmt = _route_cells_statement(school_id, near, k=k, today=now.astimezone(UTC).date())
    rows = [(h3.int_to_str(cell), rides, children) for cell, rides, children in await session.execute(stmt)]
    if not rows:
        return RouteReport(school, [])
    inputs = await cell_inputs(
        session, resolution=resolution, bbox=_around([c for c, _, _ in rows]), research_only=True, now=now
    )
    scored = []
    for cell, rides, children in rows:
        props = danger_score(inputs.get(cell, CellInputs()), now).properties()
        values: dict[str, ExportValue] = {
            "danger": props["danger"],
            "routeRides": rides,
            "routeChildren": children,
        }
        values.update({name: props[name] for name in ROUTE_COLUMNS[3:]})
        scored.append((-props["danger"], -rides, cell, values))
    scored.sort(key=lambda item: item[:3])
    return RouteReport(school, [(cell, values) for _, _, cell, values in scored])
