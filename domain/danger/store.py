"""The danger model's inputs: public hazards from the database, people's figures from a release.

Hazards are public facts (``GET /hazards`` shows them with their counts), read
here exactly, at any resolution. Everything that comes from people's rides
(passes, distinct people) comes from a differentially private release
(`privacy.release`), never from the rides themselves: there is no exact path
from ``cell_exposure`` to a danger score, for exports nor for the router.

A hazard counts if it was created by the end of the window's last day and is
active now (the status is current, not historical).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.danger.rules import CellInputs, DangerScore, HazardInput, danger_score
from domain.hazards.rules import ACTIVE_STATUSES, HazardStatus
from domain.hazards.tables import Hazard
from geo.cells import BBox, cell_in_bbox
from privacy.release.mechanism import Released
from privacy.release.rules import refine_cells


async def active_hazards(
    session: AsyncSession, *, resolution: int, bbox: BBox | None = None, until_day: date | None = None
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
    if until_day is not None:
        stmt = stmt.where(
            col(Hazard.created_at) < datetime.combine(until_day, time(), UTC) + timedelta(days=1)
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


def released_inputs(
    released: Mapping[int, Released], hazards: Mapping[str, list[HazardInput]], resolution: int
) -> dict[str, CellInputs]:
    """Inputs of every cell with a public hazard or a released figure, at ``resolution`` (finer or equal
    to the release's: released figures are shared out among children, pure post-processing)."""
    shares = refine_cells(released, resolution)
    out: dict[str, CellInputs] = {}
    for cell_int, (people, passes, _) in shares.items():
        cell = h3.int_to_str(cell_int)
        out[cell] = CellInputs(tuple(hazards.get(cell, ())), 0, round(passes), round(people))
    for cell, found in hazards.items():
        if cell not in out:
            out[cell] = CellInputs(tuple(found))
    return out


def danger_scores(inputs: Mapping[str, CellInputs], now: datetime) -> dict[str, DangerScore]:
    """The danger score of every cell with any evidence; cells absent here score 0."""
    return {cell: danger_score(cell_input, now) for cell, cell_input in inputs.items()}


__all__ = ["active_hazards", "danger_scores", "released_inputs"]
