"""What the open data holds, read from the database: public hazards and k-anonymous cell statistics.

Hazards: every hazard the public already sees, bar rejected ones (a planner
found nothing there). Cell statistics reuse the planner export query
(:func:`domain.danger.store.cell_stats_statement`): contributions with
effective ``research_sharing`` consent only, and only cells with at least k
distinct contributors, filtered in SQL so that smaller cells never leave
PostgreSQL. The window is ``window_days`` UTC days ending with ``until``'s day.
Pages are ordered by a stable key (hazard creation, cell index) so that
``offset`` pagination is consistent between calls.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.danger.rules import CellInputs, danger_score
from domain.danger.store import active_hazards, cell_stats_statement, to_stats
from domain.hazards.rules import PUBLISHED_STATUSES
from domain.hazards.tables import Hazard, HazardTombstone
from domain.opendata.rules import CellStatistic, PublicHazard

_PUBLISHED = [s.value for s in PUBLISHED_STATUSES]


@dataclass(frozen=True, slots=True)
class CellWindow:
    """Which cells and days the statistics cover, and the k they honour."""

    resolution: int
    until: date
    days: int
    k: int

    @property
    def since_time(self) -> datetime:
        start = self.until - timedelta(days=self.days - 1)
        return datetime(start.year, start.month, start.day, tzinfo=UTC)

    @property
    def until_time(self) -> datetime:
        return datetime(self.until.year, self.until.month, self.until.day, tzinfo=UTC)


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
        created_at=row.created_at,
        updated_at=row.updated_at,
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


def _cells_statement(window: CellWindow) -> sa.Select[int, int, int, int]:
    return cell_stats_statement(
        resolution=window.resolution,
        since=window.since_time,
        until=window.until_time,
        research_only=True,
        today=window.until,
        min_contributors=window.k,
    )


async def count_cells(session: AsyncSession, window: CellWindow) -> int:
    stmt = sa.select(sa.func.count()).select_from(_cells_statement(window).order_by(None).subquery())
    return int((await session.execute(stmt)).scalar_one())


async def cells_page(
    session: AsyncSession,
    window: CellWindow,
    *,
    limit: int | None,
    offset: int = 0,
    cells: Sequence[str] = (),
    now: datetime,
) -> list[CellStatistic]:
    """The window's k-anonymous cells in index order, with their active hazards and danger score."""
    stmt = _cells_statement(window)
    if cells:
        inner = stmt.subquery()
        stmt = (
            sa.select(*inner.c).where(inner.c[0].in_([h3.str_to_int(c) for c in cells])).order_by(inner.c[0])
        )
    stmt = stmt.offset(offset).limit(limit)
    rows = [to_stats(r) for r in await session.execute(stmt)]
    if not rows:
        return []
    hazards = await active_hazards(session, resolution=window.resolution, until=window.until_time)
    out = []
    for stats in rows:
        found = tuple(hazards.get(stats.cell, ()))
        inputs = CellInputs(found, stats.near_misses, stats.rides, stats.contributors)
        score = danger_score(inputs, now)
        out.append(
            CellStatistic(
                cell=stats.cell,
                rides=stats.rides,
                near_misses=stats.near_misses,
                contributors=stats.contributors,
                active_hazards=score.hazards,
                danger_score=score.score,
                since=window.since_time,
                until=window.until_time,
            )
        )
    return out


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
