"""The statements hazards are read and recounted with. Nothing here commits.

Counts are never computed in Python from values read earlier: `recount`
derives them from the rows in one statement, under the hazard row's lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.core.errors import NotFound
from domain.hazards.rules import (
    ACTIVE_STATUSES,
    DAILY_REPORT_CAP,
    REPORT_CAP_WINDOW,
    HazardCategory,
    HazardStatus,
    ensure_report_quota,
)
from domain.hazards.tables import Hazard, HazardReport, HazardStatusChange
from geo.clustering import HazardCandidate


@dataclass(frozen=True, slots=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


@dataclass(frozen=True, slots=True)
class HazardFilter:
    bbox: BBox | None = None
    categories: Collection[HazardCategory] = ()
    statuses: Collection[HazardStatus] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    ids: Collection[uuid.UUID] = ()


async def ensure_quota(session: AsyncSession, user_id: uuid.UUID, now: datetime, adding: int) -> None:
    count, oldest = (
        await session.execute(
            sa.select(sa.func.count(), sa.func.min(col(HazardReport.created_at))).where(
                col(HazardReport.user_id) == user_id, col(HazardReport.created_at) > now - REPORT_CAP_WINDOW
            )
        )
    ).one()
    ensure_report_quota(int(count) + adding - 1, oldest, now=now, cap=DAILY_REPORT_CAP)


async def candidates(
    session: AsyncSession, category: HazardCategory, cells: Collection[str]
) -> list[HazardCandidate]:
    rows = await session.execute(
        sa.select(col(Hazard.id), col(Hazard.cell), col(Hazard.lat), col(Hazard.lon)).where(
            col(Hazard.category) == category.value,
            col(Hazard.cell).in_(cells),
            col(Hazard.status).in_([s.value for s in ACTIVE_STATUSES]),
        )
    )
    return [HazardCandidate(r.id, category.value, r.cell, r.lat, r.lon) for r in rows]


async def put_report(session: AsyncSession, report: HazardReport) -> HazardReport:
    """File `report`, or update the reporter's one report of that hazard with it; the stored report.

    The update keeps the first report's id and filing time (report points are
    keyed on the id) and takes the newer observation: a near miss synced late
    never replaces a fresher one.
    """
    values = {c.name: getattr(report, c.name) for c in HazardReport.__table__.columns}  # type: ignore[attr-defined]
    insert_report = insert(HazardReport).values(values)
    newer = insert_report.excluded
    statement = insert_report.on_conflict_do_update(
        constraint="uq_hazard_report_user",
        set_={
            "severity": newer.severity,
            "description": newer.description,
            "observed_at": newer.observed_at,
            "ride_id": newer.ride_id,
            "ride_offset_s": newer.ride_offset_s,
        },
        where=newer.observed_at >= col(HazardReport.observed_at),
    ).returning(HazardReport)
    stored = (await session.scalars(statement, execution_options={"populate_existing": True})).one_or_none()
    if stored is None:  # an older observation than the one kept: the report stays as it is
        stored = (
            await session.scalars(
                sa.select(HazardReport).where(
                    col(HazardReport.hazard_id) == report.hazard_id,
                    col(HazardReport.user_id) == report.user_id,
                )
            )
        ).one()
    return stored


async def locked_hazard(session: AsyncSession, hazard_id: uuid.UUID) -> Hazard:
    hazard = (
        await session.execute(
            sa.select(Hazard)
            .where(col(Hazard.id) == hazard_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if hazard is None:
        raise NotFound("No hazard has this id.", code="hazard-not-found")
    return hazard


_COUNTED = """NOT EXISTS (SELECT 1 FROM hazard_report r
                            WHERE r.hazard_id = c.hazard_id AND r.user_id = c.user_id)"""
"""A confirmation or dispute counts unless its author also reported the hazard: one person, one voice."""

_RECOUNT = sa.text(
    f"""
    UPDATE hazard SET
      report_count = (SELECT count(*) FROM hazard_report r WHERE r.hazard_id = hazard.id),
      severity = COALESCE((SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY r.severity DESC)
                           FROM hazard_report r WHERE r.hazard_id = hazard.id), hazard.severity),
      confirmation_count = (SELECT count(*) FROM hazard_confirmation c
                            WHERE c.hazard_id = hazard.id AND c.still_there AND {_COUNTED}),
      dispute_count = (SELECT count(*) FROM hazard_confirmation c
                       WHERE c.hazard_id = hazard.id AND NOT c.still_there AND {_COUNTED}),
      last_confirmed_at = GREATEST(
        (SELECT max(r.observed_at) FROM hazard_report r WHERE r.hazard_id = hazard.id),
        (SELECT max(c.created_at) FROM hazard_confirmation c
         WHERE c.hazard_id = hazard.id AND c.still_there AND {_COUNTED})),
      updated_at = :now
    WHERE hazard.id = ANY(:ids)
    """  # noqa: S608 - constant fragments
)


async def recount(session: AsyncSession, hazard_ids: Collection[uuid.UUID], now: datetime) -> None:
    """Counts, severity (upper median of the reports) and freshness from the rows themselves.

    Every figure counts people: a hazard has at most one report per person
    (`uq_hazard_report_user`), and a reporter's own confirmation or dispute
    does not count beside their report. Freshness is the latest observation
    (a report's `observed_at`, a confirmation's moment), so a near miss synced
    days late ages from when it happened. Callers hold the hazard rows' locks
    (FOR UPDATE), so this statement's snapshot sees every committed row.
    """
    await session.execute(_RECOUNT, {"ids": list(hazard_ids), "now": now})


async def get_hazard(session: AsyncSession, hazard_id: uuid.UUID) -> Hazard:
    hazard = await session.get(Hazard, hazard_id)
    if hazard is None:
        raise NotFound("No hazard has this id.", code="hazard-not-found")
    return hazard


async def list_hazards(
    session: AsyncSession,
    where: HazardFilter,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[Hazard]:
    """Newest first, ties broken by id: a stable order for keyset pagination (`after` = last item's key)."""
    query = sa.select(Hazard)
    if where.bbox is not None:
        box = where.bbox
        query = query.where(
            col(Hazard.lat).between(box.min_lat, box.max_lat),
            col(Hazard.lon).between(box.min_lon, box.max_lon),
        )
    if where.categories:
        query = query.where(col(Hazard.category).in_([c.value for c in where.categories]))
    if where.statuses:
        query = query.where(col(Hazard.status).in_([s.value for s in where.statuses]))
    if where.created_from is not None:
        query = query.where(col(Hazard.created_at) >= where.created_from)
    if where.created_to is not None:
        query = query.where(col(Hazard.created_at) <= where.created_to)
    if where.ids:
        query = query.where(col(Hazard.id).in_(list(where.ids)))
    if after is not None:
        query = query.where(sa.tuple_(col(Hazard.created_at), col(Hazard.id)) < sa.tuple_(*after))
    query = query.order_by(col(Hazard.created_at).desc(), col(Hazard.id).desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def status_history(session: AsyncSession, hazard_id: uuid.UUID) -> list[HazardStatusChange]:
    rows = await session.execute(
        sa.select(HazardStatusChange)
        .where(col(HazardStatusChange.hazard_id) == hazard_id)
        .order_by(col(HazardStatusChange.changed_at), col(HazardStatusChange.id))
    )
    return list(rows.scalars())


async def reports_of(session: AsyncSession, hazard_id: uuid.UUID) -> list[HazardReport]:
    """A hazard's reports, oldest first, for planners' triage (the API strips who filed them)."""
    await get_hazard(session, hazard_id)
    rows = await session.execute(
        sa.select(HazardReport)
        .where(col(HazardReport.hazard_id) == hazard_id)
        .order_by(col(HazardReport.created_at), col(HazardReport.id))
    )
    return list(rows.scalars())
