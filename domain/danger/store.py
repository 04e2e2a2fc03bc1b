"""Per-cell inputs of the danger model, read from the database: for the router and for planner exports.

Where each figure comes from:
- hazards: active hazards (open, acknowledged, planned) of the cell. They are
  public facts (``GET /hazards`` shows them), so they count whoever reported them;
- rides: passages of walk and bike rides (``cell_exposure``, per user and day);
- near misses: hazard reports filed during a ride (``hazard_report.ride_id``);
- contributors: distinct people behind rides and near misses.

With ``research_only`` (every export) rides, near misses and contributors count
only users whose ``research_sharing`` consent is effective *now*
(:func:`privacy.consent.effective_consent_subquery`, joined inside the query,
never snapshotted): a withdrawal removes the user from the next export. The
router reads everything (``research_only=False``) because it never hands out
per-cell figures.

Resolutions: rows are stored at the ride resolution (10); a coarser cell is
computed *in SQL* from the 64-bit H3 index (set the resolution field, fill the
finer digits with 7, which is exactly ``h3.cell_to_parent``), so that
``count(DISTINCT user_id)`` of a parent is the union of its children's people,
never a sum.

Time window: the aggregates are per UTC day, so ``since`` and ``until`` are
truncated to their UTC day and both days are included. Near misses use the
day they were observed. A hazard counts if it was created by the end of the
``until`` day and is active now (the status is current, not historical).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import h3
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from domain.core.enums import ConsentPurpose
from domain.danger.rules import CellInputs, DangerScore, HazardInput, danger_score
from domain.hazards.rules import ACTIVE_STATUSES, HazardStatus
from domain.hazards.tables import Hazard, HazardReport
from domain.rides.tables import CellExposure
from geo.cells import BBox, cell_in_bbox
from privacy.consent.store import effective_consent_subquery

COVER_RESOLUTION: Final = 6
"""The coarse cells a bbox is first narrowed to in SQL (≈ 36 km² each); the exact rule runs in Python."""

_RES_SHIFT: Final = 52
_CLEAR_RES: Final = ~(0xF << _RES_SHIFT)


def parent_cell_sql(cell: Any, resolution: int) -> sa.ColumnElement[int]:
    """``h3.cell_to_parent`` on a BIGINT H3 index, for cells at ``resolution`` or finer.

    Bits 52-55 hold the resolution and each finer level's 3-bit digit is 7 when
    unused; so the parent is the cell with the resolution field replaced and the
    digits below it set to 7 (checked against h3 in the tests).
    """
    fill = (1 << (3 * (15 - resolution))) - 1
    set_bits = (resolution << _RES_SHIFT) | fill
    cleared = sa.type_coerce(cell, sa.BigInteger).op("&")(sa.literal(_CLEAR_RES, sa.BigInteger))
    return sa.type_coerce(cleared.op("|")(sa.literal(set_bits, sa.BigInteger)), sa.BigInteger)


def text_cell_sql(cell: Any) -> sa.ColumnElement[int]:
    """A hexadecimal H3 string column as its BIGINT index (``h3.str_to_int`` in SQL)."""
    hexed = sa.literal("x") + sa.func.lpad(cell, 16, "0")
    return sa.cast(sa.cast(hexed, BIT(64)), sa.BigInteger)


def cover_cells(box: BBox) -> list[int]:
    """Resolution-6 cells that surely contain every finer cell whose centre lies in ``box``.

    The cells whose centres are in the box, those holding its corners, and one
    ring around them (a child's centre may sit in the box while its parent's does not).
    """
    ring = [
        (box.min_lat, box.min_lon),
        (box.min_lat, box.max_lon),
        (box.max_lat, box.max_lon),
        (box.max_lat, box.min_lon),
    ]
    inner = set(h3.h3shape_to_cells(h3.LatLngPoly(ring), COVER_RESOLUTION))
    inner.update(h3.latlng_to_cell(lat, lon, COVER_RESOLUTION) for lat, lon in ring)
    cover: set[str] = set()
    for cell in inner:
        cover.update(h3.grid_disk(cell, 1))
    return sorted(h3.str_to_int(c) for c in cover)


def table_of(model: type[SQLModel]) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


def _day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    return moment.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class CellStats:
    """One cell's rides, near misses and distinct contributors at the requested resolution."""

    cell: str
    rides: int
    near_misses: int
    contributors: int


def cell_stats_statement(
    *,
    resolution: int,
    bbox: BBox | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    research_only: bool,
    today: date,
    min_contributors: int = 0,
) -> sa.Select[int, int, int, int]:
    """``(cell BIGINT, rides, near_misses, contributors)`` per cell, ordered by cell.

    ``min_contributors`` applies the k rule in the database (HAVING), so cells
    below it never leave PostgreSQL. ``bbox`` narrows to :func:`cover_cells`;
    the caller applies the exact centre rule (:func:`geo.cells.cell_in_bbox`).
    """
    exp = table_of(CellExposure).alias("e")
    rep = table_of(HazardReport).alias("r")
    haz = table_of(Hazard).alias("h")
    consenting = effective_consent_subquery(ConsentPurpose.RESEARCH_SHARING, today)

    e_cell = parent_cell_sql(exp.c.cell, resolution)
    exposure = sa.select(
        e_cell.label("cell"),
        exp.c.user_id.label("user_id"),
        exp.c.rides.label("rides"),
        sa.literal(0).label("near_misses"),
    )
    n_cell = parent_cell_sql(text_cell_sql(haz.c.cell), resolution)
    near = (
        sa.select(
            n_cell.label("cell"),
            rep.c.user_id.label("user_id"),
            sa.literal(0).label("rides"),
            sa.literal(1).label("near_misses"),
        )
        .select_from(rep.join(haz, haz.c.id == rep.c.hazard_id))
        .where(rep.c.ride_id.is_not(None))
    )
    observed_day = sa.cast(sa.func.timezone("UTC", rep.c.observed_at), sa.Date)
    if since is not None:
        exposure = exposure.where(exp.c.day >= _day(since))
        near = near.where(observed_day >= _day(since))
    if until is not None:
        exposure = exposure.where(exp.c.day <= _day(until))
        near = near.where(observed_day <= _day(until))
    if research_only:
        exposure = exposure.where(exp.c.user_id.in_(consenting))
        near = near.where(rep.c.user_id.in_(consenting))
    if bbox is not None:
        cover = sa.bindparam("cover", cover_cells(bbox), type_=sa.ARRAY(sa.BigInteger))
        exposure = exposure.where(parent_cell_sql(exp.c.cell, COVER_RESOLUTION) == sa.func.any(cover))
        near = near.where(parent_cell_sql(text_cell_sql(haz.c.cell), COVER_RESOLUTION) == sa.func.any(cover))
    rows = sa.union_all(exposure, near).subquery("contributions")
    people = sa.func.count(sa.distinct(rows.c.user_id))
    stmt = (
        sa.select(
            rows.c.cell,
            sa.cast(sa.func.sum(rows.c.rides), sa.Integer),
            sa.cast(sa.func.sum(rows.c.near_misses), sa.Integer),
            sa.cast(people, sa.Integer),
        )
        .group_by(rows.c.cell)
        .order_by(rows.c.cell)
    )
    if min_contributors > 0:
        stmt = stmt.having(people >= min_contributors)
    return stmt


def to_stats(row: Sequence[Any]) -> CellStats:
    cell, rides, near_misses, contributors = row
    return CellStats(h3.int_to_str(cell), rides, near_misses, contributors)


async def active_hazards(
    session: AsyncSession, *, resolution: int, bbox: BBox | None = None, until: datetime | None = None
) -> dict[str, list[HazardInput]]:
    """Active hazards per cell at ``resolution`` (few enough per city to read at once)."""
    stmt = sa.select(
        col(Hazard.cell),
        col(Hazard.severity),
        col(Hazard.confirmation_count),
        col(Hazard.dispute_count),
        col(Hazard.report_count),
        col(Hazard.status),
        sa.func.coalesce(col(Hazard.last_confirmed_at), col(Hazard.created_at)),
    ).where(col(Hazard.status).in_([s.value for s in ACTIVE_STATUSES]))
    if until is not None:
        stmt = stmt.where(
            col(Hazard.created_at)
            < datetime.combine(_day(until), datetime.min.time(), UTC) + timedelta(days=1)
        )
    out: dict[str, list[HazardInput]] = {}
    for cell, severity, confirmations, disputes, reports, status, last in await session.execute(stmt):
        if h3.get_resolution(cell) < resolution:
            continue
        parent = cell if h3.get_resolution(cell) == resolution else h3.cell_to_parent(cell, resolution)
        if bbox is not None and not cell_in_bbox(parent, bbox):
            continue
        hazard = HazardInput(severity, confirmations, disputes, reports, HazardStatus(status), last)
        out.setdefault(parent, []).append(hazard)
    return out


async def cell_inputs(
    session: AsyncSession,
    *,
    resolution: int = 10,
    bbox: BBox | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    research_only: bool = True,
    now: datetime,
) -> dict[str, CellInputs]:
    """Inputs of every cell with a hazard, a ride or a near miss (h3 string → inputs), no k rule."""
    stmt = cell_stats_statement(
        resolution=resolution,
        bbox=bbox,
        since=since,
        until=until,
        research_only=research_only,
        today=now.astimezone(UTC).date(),
    )
    hazards = await active_hazards(session, resolution=resolution, bbox=bbox, until=until)
    out: dict[str, CellInputs] = {}
    for row in await session.execute(stmt):
        stats = to_stats(row)
        if bbox is not None and not cell_in_bbox(stats.cell, bbox):
            continue
        found = tuple(hazards.pop(stats.cell, ()))
        out[stats.cell] = CellInputs(found, stats.near_misses, stats.rides, stats.contributors)
    for cell, found_hazards in hazards.items():
        out[cell] = CellInputs(tuple(found_hazards))
    return out


async def danger_scores(
    session: AsyncSession,
    *,
    now: datetime,
    resolution: int = 10,
    bbox: BBox | None = None,
    research_only: bool = False,
) -> dict[str, DangerScore]:
    """The danger score of every cell with any evidence; cells absent here score 0."""
    inputs = await cell_inputs(
        session, resolution=resolution, bbox=bbox, research_only=research_only, now=now
    )
    return {cell: danger_score(cell_input, now) for cell, cell_input in inputs.items()}


__all__ = [
    "COVER_RESOLUTION",
    "CellStats",
    "active_hazards",
    "cell_inputs",
    "cell_stats_statement",
    "cover_cells",
    "danger_scores",
    "parent_cell_sql",
    "table_of",
    "text_cell_sql",
    "to_stats",
]
