"""What the open data holds: public hazards from the database, cell statistics from a release.

Hazards: every hazard the public already sees, bar rejected ones (a planner
found nothing there). Cell statistics: the latest whole month's
differentially private release (`privacy.release`: made once, served again,
charged to that month's budget), summed to the open-data resolution, with the
public hazards and the danger score computed from them. Only months that are
over are published, so two days' statistics never differ by one day's riders.
Pages are ordered by a stable key (hazard creation, cell index) so that
``offset`` pagination is consistent between calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.danger.rules import CellInputs, danger_score
from domain.danger.store import active_hazards
from domain.hazards.rules import PUBLISHED_STATUSES, public_time
from domain.hazards.tables import Hazard, HazardTombstone
from domain.opendata.rules import CellStatistic, PublicHazard
from privacy.release.rules import ReleasePolicy, Window, coarsen_cells
from privacy.release.service import obtain
from privacy.release.tables import Dataset

_PUBLISHED = [s.value for s in PUBLISHED_STATUSES]


@dataclass(frozen=True, slots=True)
class CellWindow:
    """Which cells and month the statistics cover, under which release policy."""

    resolution: int
    month: Window
    policy: ReleasePolicy

    @property
    def since_time(self) -> datetime:
        return datetime.combine(self.month.first, time(), UTC)

    @property
    def until_time(self) -> datetime:
        return datetime.combine(self.month.last, time(), UTC)


def public_hazard(row: Hazard) -> PublicHazard:
    return PublicHazard(
        id=row.id,
        category=row.category,
        lat=row.lat,
        lon=row.lon,
        status=row.status,
        severity=row.severity,
        report_count=row.report_count,
        confirmation_count=row.confirmation_count,
        dispute_count=row.dispute_count,
        public_note=row.public_note,
        created_at=public_time(row.created_at),
        updated_at=public_time(row.updated_at),
    )


def _published() -> sa.Select[Hazard]:
    return sa.select(Hazard).where(col(Hazard.status).in_(_PUBLISHED))


async def count_hazards(session: AsyncSession) -> int:
    stmt = sa.select(sa.func.count()).select_from(_published().subquery())
    return int((await session.execute(stmt)).scalar_one())


async def hazards_page(
    session: AsyncSession, *, limit: int, offset: int = 0, ids: Sequence[uuid.UUID] = ()
) -> list[PublicHazard]:
    """Published hazards, oldest first (new ones append, so pages stay put), ties by id."""
    stmt = _published().order_by(col(Hazard.created_at), col(Hazard.id)).offset(offset).limit(limit)
    if ids:
        stmt = stmt.where(col(Hazard.id).in_(list(ids)))
    return [public_hazard(h) for h in (await session.execute(stmt)).scalars()]


async def hazard(session: AsyncSession, hazard_id: uuid.UUID) -> PublicHazard | None:
    row = (await session.execute(_published().where(col(Hazard.id) == hazard_id))).scalar_one_or_none()
    return None if row is None else public_hazard(row)


async def hazards_changed_since(
    session: AsyncSession, since: datetime
) -> tuple[list[PublicHazard], list[uuid.UUID]]:
    """Hazards changed at or after ``since``, for the broker push: ``(published, gone ids)``, where
    gone are the rejected ones and the published ones deleted with their last report."""
    rows = (await session.execute(sa.select(Hazard).where(col(Hazard.updated_at) >= since))).scalars()
    published, gone = [], []
    for row in rows:
        if row.status in _PUBLISHED:
            published.append(public_hazard(row))
        else:
            gone.append(row.id)
    return published, gone + await deleted_hazards(session, since)


async def deleted_hazards(session: AsyncSession, since: datetime | None = None) -> list[uuid.UUID]:
    """Published hazards deleted with their last report at or after ``since`` (None: all the
    tombstones, which retention keeps 30 days)."""
    stmt = sa.select(col(HazardTombstone.hazard_id))
    if since is not None:
        stmt = stmt.where(col(HazardTombstone.deleted_at) >= since)
    return list((await session.execute(stmt)).scalars())


async def _statistics(session: AsyncSession, window: CellWindow, now: datetime) -> list[CellStatistic]:
    served = await obtain(session, Dataset.CELLS, window.month, window.policy, now=now)
    figures = coarsen_cells(served.cells(), window.resolution)
    hazards = await active_hazards(session, resolution=window.resolution, until_day=window.month.last)
    out = []
    for cell_int, released in sorted(figures.items()):
        cell = h3.int_to_str(cell_int)
        inputs = CellInputs(tuple(hazards.get(cell, ())), 0, released.passes, released.contributors)
        score = danger_score(inputs, now)
        out.append(
            CellStatistic(
                cell=cell,
                rides=released.passes,
                near_misses=0,
                contributors=released.contributors,
                active_hazards=score.hazards,
                danger_score=score.score,
                since=window.since_time,
                until=window.until_time,
                epsilon=served.release.epsilon,
                delta=served.release.delta,
            )
        )
    return out


async def count_cells(session: AsyncSession, window: CellWindow, *, now: datetime) -> int:
    return len(await _statistics(session, window, now))


async def cells_page(
    session: AsyncSession,
    window: CellWindow,
    *,
    limit: int | None,
    offset: int = 0,
    cells: Sequence[str] = (),
    now: datetime,
) -> list[CellStatistic]:
    """The month's released cells in index order, with their active hazards and danger score."""
    rows = await _statistics(session, window, now)
    if cells:
        wanted = set(cells)
        rows = [r for r in rows if r.cell in wanted]
    return rows[offset:] if limit is None else rows[offset : offset + limit]


__all__ = [
    "CellWindow",
    "cells_page",
    "count_cells",
    "count_hazards",
    "hazard",
    "hazards_changed_since",
    "hazards_page",
    "public_hazard",
]
