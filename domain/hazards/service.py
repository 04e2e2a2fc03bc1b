"""Hazard use cases: file reports, confirm or dispute, triage, and forget a user's or a ride's reports.

The rules are in `domain.hazards.rules` (codes, severity, workflow, text,
caps) and `geo.clustering` (which hazard a report joins); the statements that
read and recount are in `domain.hazards.store`. No HTTP here.

Concurrency, in one place:
- Filing takes a transaction-scoped advisory lock per reporter (the daily cap
  is then exact) and one per (category, cell) of the report's ring-1 disk, in
  sorted order. Two reports near each other therefore cluster one after the
  other, whichever worker they reach, and the partial unique index
  `uq_hazard_active_cell_category` backs the one-active-hazard-per-cell rule.
- Joining, confirming and triaging lock the hazard row (FOR UPDATE) before
  anything else, then recount from the rows in a fresh statement: counts are
  never computed in Python from values read earlier.

One person, one voice: a person's repeated report of a hazard updates their
one report (`store.put_report`), so every count is a count of people.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import h3
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.accounts.tables import User
from domain.core import idempotency
from domain.core.bus import publish
from domain.core.enums import Role
from domain.core.errors import Conflict
from domain.core.locks import hold, lock_key
from domain.hazards import store
from domain.hazards.events import HazardConfirmed, HazardsChanged, HazardTakenUp
from domain.hazards.rules import (
    PUBLISHED_VALUES,
    TAKEN_UP,
    HazardCategory,
    HazardStatus,
    InvalidHazardInput,
    ReportDraft,
    ensure_accepts_confirmations,
    ensure_can_confirm,
    observed_minute,
    parse_category,
    sanitize_description,
    sanitize_public_note,
    validate_severity,
    validate_transition,
)
from domain.hazards.tables import (
    COORDINATE_DECIMALS,
    Hazard,
    HazardConfirmation,
    HazardReport,
    HazardStatusChange,
    HazardTombstone,
)
from geo.clustering import (
    DEFAULT_RESOLUTION,
    InvalidPoint,
    cluster_report,
    report_cell,
    search_cells,
)

# --- filing -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Checked:
    draft: ReportDraft
    category: HazardCategory
    cell: str
    description: str | None
    observed_at: datetime


def _check(draft: ReportDraft, now: datetime, resolution: int) -> _Checked:
    category = parse_category(draft.category)
    validate_severity(draft.severity)
    try:
        cell = report_cell(draft.lat, draft.lon, resolution)
    except InvalidPoint as exc:
        raise InvalidHazardInput(exc.field, exc.message, code="invalid-coordinates") from None
    if draft.ride_offset_s is not None and draft.ride_offset_s < 0:
        raise InvalidHazardInput("rideOffsetS", "A moment in a ride cannot be before its start.")
    return _Checked(
        draft,
        category,
        cell,
        sanitize_description(draft.description),
        observed_minute(draft.observed_at, now),
    )


async def _file_one(
    session: AsyncSession, user_id: uuid.UUID, checked: _Checked, now: datetime, resolution: int
) -> tuple[HazardReport, Hazard]:
    draft = checked.draft
    candidates = await store.candidates(session, checked.category, search_cells(checked.cell))
    decision = cluster_report(draft.lat, draft.lon, checked.category.value, candidates, resolution=resolution)
    if decision.hazard_id is None:
        lat, lon = h3.cell_to_latlng(decision.cell) if draft.at_cell else (draft.lat, draft.lon)
        hazard = Hazard(
            category=checked.category.value,
            cell=decision.cell,
            lat=round(lat, COORDINATE_DECIMALS),
            lon=round(lon, COORDINATE_DECIMALS),
            severity=draft.severity,
            created_at=now,
            updated_at=now,
        )
        session.add(hazard)
        await session.flush()
    else:
        hazard = await store.locked_hazard(session, decision.hazard_id)
    report = await store.put_report(
        session,
        HazardReport(
            hazard_id=hazard.id,
            user_id=user_id,
            category=checked.category.value,
            severity=draft.severity,
            description=checked.description,
            observed_at=checked.observed_at,
            created_at=now,
            ride_id=draft.ride_id,
            ride_offset_s=draft.ride_offset_s,
        ),
    )
    await store.recount(session, [hazard.id], now)
    await session.refresh(hazard)
    return report, hazard


async def file_reports(
    session: AsyncSession,
    user: User,
    drafts: Sequence[ReportDraft],
    *,
    now: datetime,
    resolution: int = DEFAULT_RESOLUTION,
) -> list[tuple[HazardReport, Hazard]]:
    """File several reports of one user in one go (a ride's incidents). Does NOT commit.

    All locks are taken up front in one sorted order, so two rides with
    incidents at the same places cannot deadlock each other. Any invalid draft
    raises before anything is written; the daily cap counts every draft.
    """
    checked = [_check(d, now, resolution) for d in drafts]
    if not checked:
        return []
    cell_keys = {
        lock_key("hazard-cell", c.category.value, cell) for c in checked for cell in search_cells(c.cell)
    }
    await hold(session, {lock_key("hazard-reporter", str(user.id))})
    await store.ensure_quota(session, user.id, now, adding=len(checked))
    await hold(session, cell_keys)
    filed = [await _file_one(session, user.id, c, now, resolution) for c in checked]
    await publish(session, HazardsChanged(now))
    return filed


async def file_report(
    session: AsyncSession,
    user: User,
    *,
    lat: float,
    lon: float,
    category: str,
    severity: int,
    description: str | None,
    observed_at: datetime | None,
    now: datetime,
    ride_id: uuid.UUID | None = None,
    ride_offset_s: int | None = None,
    resolution: int = DEFAULT_RESOLUTION,
) -> tuple[HazardReport, Hazard]:
    """Snap a report to its cell, join the matching active hazard or create one. Does NOT commit.

    The caller owns the transaction (the rides upload files incidents inside
    its own) and must have checked the `hazard_reporting` consent. Raises
    `InvalidHazardInput` (422), `ReportCapReached` (429) before writing.
    For several reports in one transaction prefer `file_reports`.
    """
    draft = ReportDraft(lat, lon, category, severity, description, observed_at, ride_id, ride_offset_s)
    [(report, hazard)] = await file_reports(session, user, [draft], now=now, resolution=resolution)
    return report, hazard


async def file_report_once(
    session: AsyncSession,
    user: User,
    draft: ReportDraft,
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    render: Callable[[HazardReport, Hazard], dict[str, Any]],
    now: datetime,
    resolution: int = DEFAULT_RESOLUTION,
    status_code: int = 201,
) -> idempotency.StoredResponse:
    """The HTTP use case: file under an Idempotency-Key (when given) and commit once.

    A replay of the same key and body answers the stored response and files nothing.
    """
    if key is not None:
        stored = await idempotency.claim(
            session, user_id=user.id, scope=scope, key=key, fingerprint=fingerprint, now=now
        )
        if stored is not None:
            return stored
    report, hazard = await file_report(
        session,
        user,
        lat=draft.lat,
        lon=draft.lon,
        category=draft.category,
        severity=draft.severity,
        description=draft.description,
        observed_at=draft.observed_at,
        now=now,
        resolution=resolution,
    )
    body = render(report, hazard)
    if key is not None:
        await idempotency.complete(
            session, user_id=user.id, scope=scope, key=key, status_code=status_code, body=body
        )
    await session.commit()
    return idempotency.StoredResponse(status_code, body)


# --- confirmations and triage -------------------------------------------------------------------------


async def confirm(
    session: AsyncSession, user_id: uuid.UUID, hazard_id: uuid.UUID, *, still_there: bool, now: datetime
) -> Hazard:
    """Confirm (`still_there`) or dispute an active hazard, once per user; commits."""
    hazard = await store.locked_hazard(session, hazard_id)
    ensure_accepts_confirmations(HazardStatus(hazard.status))
    reporters = await session.execute(
        sa.select(col(HazardReport.user_id)).where(col(HazardReport.hazard_id) == hazard_id).distinct()
    )
    ensure_can_confirm(user_id, set(reporters.scalars()))
    confirmation_id = uuid.uuid4()
    added = await session.execute(
        insert(HazardConfirmation)
        .values(
            id=confirmation_id, hazard_id=hazard_id, user_id=user_id, still_there=still_there, created_at=now
        )
        .on_conflict_do_nothing(constraint="uq_hazard_confirmation_user")
        .returning(sa.literal(1))
    )
    if added.scalar_one_or_none() is None:
        raise Conflict("You already confirmed or disputed this hazard.", code="already-confirmed")
    await store.recount(session, [hazard_id], now)
    await publish(session, HazardConfirmed(hazard_id, confirmation_id, user_id, still_there, now))
    await publish(session, HazardsChanged(now))
    await session.commit()
    await session.refresh(hazard)
    return hazard


async def triage(
    session: AsyncSession,
    hazard_id: uuid.UUID,
    *,
    actor_id: uuid.UUID,
    actor_role: Role,
    status: HazardStatus | None,
    public_note: str | None,
    now: datetime,
) -> Hazard:
    """Move a hazard along the workflow (with a history line) or, without `status`, edit the note; commits.

    A transition replaces the public note with the one given (none clears it):
    a note speaks about the status it came with.
    """
    note = sanitize_public_note(public_note)
    hazard = await store.locked_hazard(session, hazard_id)
    if status is not None:
        current = HazardStatus(hazard.status)
        validate_transition(current, status)
        session.add(
            HazardStatusChange(
                hazard_id=hazard_id,
                from_status=current.value,
                to_status=status.value,
                changed_by=actor_id,
                changed_by_role=actor_role.value,
                public_note=note,
                changed_at=now,
            )
        )
        hazard.status = status.value
        if status in TAKEN_UP:
            await publish(session, HazardTakenUp(hazard_id, now))
    hazard.public_note = note
    hazard.updated_at = now
    await publish(session, HazardsChanged(now))
    await session.commit()
    return hazard


# --- erasure ------------------------------------------------------------------------------------------


async def _forget(
    session: AsyncSession,
    reports: sa.ColumnElement[bool],
    confirmations: sa.ColumnElement[bool] | None,
    now: datetime,
) -> None:
    touched = sa.select(col(HazardReport.hazard_id)).where(reports)
    if confirmations is not None:
        touched = touched.union(sa.select(col(HazardConfirmation.hazard_id)).where(confirmations))  # type: ignore[assignment]
    locked = await session.execute(
        sa.select(col(Hazard.id))
        .where(col(Hazard.id).in_(touched))
        .order_by(col(Hazard.id))
        .with_for_update()
    )
    ids = list(locked.scalars())
    if not ids:
        return
    await session.execute(sa.delete(HazardReport).where(reports))
    if confirmations is not None:
        await session.execute(sa.delete(HazardConfirmation).where(confirmations))
    await store.recount(session, ids, now)
    gone = await session.execute(
        sa.delete(Hazard)
        .where(col(Hazard.id).in_(ids), col(Hazard.report_count) == 0)
        .returning(col(Hazard.id), col(Hazard.status))
    )
    published = [{"hazard_id": row.id, "deleted_at": now} for row in gone if row.status in PUBLISHED_VALUES]
    if published:
        # the broker still holds these as Alerts: the push after the commit deletes them there
        await session.execute(insert(HazardTombstone).values(published).on_conflict_do_nothing())
    await publish(session, HazardsChanged(now))


async def erase_contributions(session: AsyncSession, user_id: uuid.UUID, *, now: datetime) -> None:
    """Remove a user's reports and confirmations, fix the counts, drop hazards left without a report.

    Call it in the erasure transaction before deleting the user (the cascade
    alone would leave stale counts). Does NOT commit.
    """
    await _forget(
        session, col(HazardReport.user_id) == user_id, col(HazardConfirmation.user_id) == user_id, now
    )


async def forget_ride_reports(session: AsyncSession, ride_id: uuid.UUID, *, now: datetime) -> None:
    """Remove the incident reports of a deleted ride, as erasure does. Does NOT commit."""
    await _forget(session, col(HazardReport.ride_id) == ride_id, None, now)
