"""Points applied to the database: awards inside their cause's transaction, the ledger, and forgetting a ride.

Every award is one ``INSERT ... ON CONFLICT DO NOTHING`` on the ledger's
unique ``(user, reason, source)`` (badges: on ``(user, code)``), run by the
use case that causes it (ride upload, confirmation, triage) before its single
commit. So an award exists exactly when its cause does, a replay or a
concurrent duplicate awards nothing more, and nothing here commits.

Caps are read from the ledger itself; what makes them exact under concurrency
is a lock per user: the ride upload already holds the user's ride lock, and
confirmations take :func:`_lock_confirmations`. Nothing here imports Litestar.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.core import sql as pg
from domain.core.locks import hold, lock_key
from domain.rides.rules import ProcessedRide
from domain.rides.tables import Ride
from gamification.anticheat.rules import (
    Verdict,
)
from gamification.anticheat.service import Judgement
from gamification.badges import store as stats
from gamification.badges.rules import (
    CATALOGUE,
    EXPLORER_RESOLUTIONS,
    Badge,
    areas_of,
    evaluate,
    open_explorer_resolutions,
)
from gamification.badges.service import (
    evaluate_open,
    grant,
    is_confirmation_badge,
    is_report_badge,
    is_ride_badge,
)
from gamification.points.rules import (
    DEFAULT_RULES,
    AwardReason,
    PointRules,
    confirmation_points,
    is_qualifying_trip,
    report_acknowledged_points,
    report_confirmed_points,
    ride_points,
    streak_bonus,
)
from gamification.streaks import local_date, streaks
from gamification.tables import ExplorerArea, PointsEntry
from geo.classify import TravelMode

_ONE_DAY = timedelta(days=1)
_REPORT_REASONS = (AwardReason.REPORT_CONFIRMED.value, AwardReason.REPORT_ACKNOWLEDGED.value)


@dataclass(frozen=True, slots=True)
class RideAward:
    """What a ride earned: its points (0 when flagged or motorised), new badges, the anti-cheat verdict."""

    points: int
    badges: tuple[Badge, ...]
    verdict: Verdict


# --- the ledger --------------------------------------------------------------------------------------


async def award(
    session: AsyncSession,
    user_id: uuid.UUID,
    amount: int,
    reason: AwardReason,
    source: str,
    *,
    day: date,
    now: datetime,
) -> int:
    """Write one entry unless that (user, reason, source) already has one; the points actually written."""
    if amount <= 0:
        return 0
    written = await session.execute(
        insert(PointsEntry)
        .values(
            id=uuid.uuid4(),
            user_id=user_id,
            amount=amount,
            reason=reason.value,
            source=source,
            day=day,
            created_at=now,
        )
        .on_conflict_do_nothing(constraint="uq_points_entry_award")
        .returning(col(PointsEntry.amount))
    )
    return int(written.scalar_one_or_none() or 0)


async def _points_on(session: AsyncSession, user_id: uuid.UUID, reason: AwardReason, day: date) -> int:
    total = await session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(col(PointsEntry.amount)), 0)).where(
            col(PointsEntry.user_id) == user_id,
            col(PointsEntry.reason) == reason.value,
            col(PointsEntry.day) == day,
        )
    )
    return int(total.scalar_one())


async def points_total(session: AsyncSession, user_id: uuid.UUID) -> int:
    total = await session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(col(PointsEntry.amount)), 0)).where(
            col(PointsEntry.user_id) == user_id
        )
    )
    return int(total.scalar_one())


async def points_ledger(
    session: AsyncSession, user_id: uuid.UUID, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
) -> list[PointsEntry]:
    """The user's entries, newest first, ties by id (keyset: `after` is the last item's key)."""
    query = sa.select(PointsEntry).where(col(PointsEntry.user_id) == user_id)
    if after is not None:
        query = query.where(sa.tuple_(col(PointsEntry.created_at), col(PointsEntry.id)) < sa.tuple_(*after))
    query = query.order_by(col(PointsEntry.created_at).desc(), col(PointsEntry.id).desc()).limit(limit)
    return list((await session.execute(query)).scalars())


_FORGET_RIDE_AREAS = sa.text(
    f"""
    WITH a AS ({stats.ride_areas_sql(EXPLORER_RESOLUTIONS)}),
    gone AS (
      DELETE FROM explorer_area e USING a
      WHERE e.user_id = :user_id AND e.resolution = a.resolution AND e.area = a.area AND e.rides <= 1
    )
    UPDATE explorer_area e SET rides = e.rides - 1 FROM a
    WHERE e.user_id = :user_id AND e.resolution = a.resolution AND e.area = a.area AND e.rides > 1
    """  # noqa: S608 - constant fragments
)
"""Take a qualifying ride out of its owner's explorer areas (rows that would reach zero go)."""


async def forget_ride(session: AsyncSession, user_id: uuid.UUID, ride_id: uuid.UUID) -> None:
    """Delete the points a ride earned, and those of its incident reports, before the ride goes.

    The ride also leaves its owner's explorer areas. Streak bonuses, badges
    and challenge awards already earned stay: they rewarded a moment that
    did happen, and re-deciding them would make a deletion punish more than
    it removes.
    """
    reports = sa.text("SELECT CAST(id AS text) FROM hazard_report WHERE ride_id = :ride_id")
    report_ids = list((await session.execute(reports, {"ride_id": ride_id})).scalars())
    entries = col(PointsEntry.user_id) == user_id
    ride_entry = sa.and_(
        col(PointsEntry.reason) == AwardReason.RIDE.value, col(PointsEntry.source) == str(ride_id)
    )
    report_entry = sa.and_(
        col(PointsEntry.reason).in_(_REPORT_REASONS), col(PointsEntry.source).in_(report_ids)
    )
    await session.execute(sa.delete(PointsEntry).where(entries, sa.or_(ride_entry, report_entry)))
    if EXPLORER_RESOLUTIONS:
        params = {"user_id": user_id, "ride_id": ride_id, "min_trip_m": DEFAULT_RULES.min_trip_m}
        await session.execute(_FORGET_RIDE_AREAS, params)


# --- rides -------------------------------------------------------------------------------------------


_PAY = pg.sql(
    """
    WITH explored AS (
      INSERT INTO explorer_area (user_id, resolution, area, rides)
      SELECT CAST(:user_id AS uuid), a.resolution, a.area, 1
      FROM unnest(CAST(:area_resolutions AS smallint[]), CAST(:areas AS bigint[])) AS a(resolution, area)
      ON CONFLICT (user_id, resolution, area) DO UPDATE SET rides = explorer_area.rides + 1
    )
    INSERT INTO points_entry (id, user_id, amount, reason, source, day, created_at)
    SELECT e.id, CAST(:user_id AS uuid), e.amount, e.reason, e.source, e.day, CAST(:now AS timestamptz)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:amounts AS int[]), CAST(:reasons AS varchar[]),
                CAST(:sources AS varchar[]), CAST(:days AS date[])) AS e(id, amount, reason, source, day)
    ON CONFLICT ON CONSTRAINT uq_points_entry_award DO NOTHING
    RETURNING reason, amount
    """
)
"""The ledger entries a ride earned (each once: see `award`) and the areas it adds to the
explorer badges still to earn."""


@dataclass(frozen=True, slots=True)
class _Entry:
    amount: int
    reason: AwardReason
    source: str
    day: date


async def _pay(
    session: AsyncSession,
    ride: Ride,
    entries: Sequence[_Entry],
    now: datetime,
    areas: Sequence[tuple[int, int]] = (),
) -> dict[str, int]:
    """Store the positive entries and the explorer `areas` (resolution, area); the points
    actually written, by reason."""
    due = [e for e in entries if e.amount > 0]
    written = await pg.fetch(
        session,
        _PAY,
        user_id=ride.user_id,
        now=now,
        ids=[uuid.uuid4() for _ in due],
        amounts=[e.amount for e in due],
        reasons=[e.reason.value for e in due],
        sources=[e.source for e in due],
        days=[e.day for e in due],
        area_resolutions=[res for res, _ in areas],
        areas=[area for _, area in areas],
    )
    return {row["reason"]: int(row["amount"]) for row in written}


async def award_ride(
    session: AsyncSession,
    ride: Ride,
    processed: ProcessedRide,
    judged: Judgement,
    *,
    now: datetime,
) -> RideAward:
    """Award a freshly written ride its points, a streak bonus and badges. Does NOT commit.

    `judged` is `judge_ride`'s, its verdict already stored on the ride; the
    ride is paid by the point rules its standing was read under. Call
    it inside the upload's transaction, after the ride row is written and
    while the user's ride lock is held (the daily cap is then exact). A
    flagged, motorised or too short ride earns nothing and changes no badge.
    One statement for a qualifying ride (pay), a second when a badge still to
    earn needs figures, a third to grant it, a fourth to drop the explorer
    areas once no explorer badge needs them.
    """
    verdict, standing, rules = judged.verdict, judged.standing, judged.rules
    mode = TravelMode(ride.mode)
    if not is_qualifying_trip(ride.distance_m, mode, flagged=not verdict.ok, rules=rules):
        return RideAward(0, (), verdict)
    today = local_date(now)
    days = set(standing.days) | {local_date(ride.started_at)}  # the standing was read before this ride
    last_active = today if today in days else today - _ONE_DAY
    entries = (
        _Entry(
            ride_points(ride.distance_m, mode, standing.points_today, rules),
            AwardReason.RIDE,
            str(ride.id),
            today,  # paid on, and capped by, the day it arrives: a past day never opens a fresh cap
        ),
        _Entry(
            streak_bonus(streaks(days, today).current, rules),
            AwardReason.STREAK,
            last_active.isoformat(),
            last_active,
        ),
    )
    held = set(standing.held)
    exploring = open_explorer_resolutions(held)
    cells = (v.cell for segment in processed.segments for v in segment)
    written = await _pay(session, ride, entries, now, areas_of(cells, exploring))
    open_badges = [b for b in CATALOGUE if is_ride_badge(b) and b.code not in held]
    earned: tuple[Badge, ...] = ()
    if open_badges:
        snapshot = await stats.user_stats(
            session,
            ride.user_id,
            open_badges,
            resolution=ride.resolution,
            days=days,
            school=standing.school,
            rules=rules,
        )
        earned = await grant(session, ride.user_id, evaluate(snapshot, held, open_badges), now)
        still_exploring = open_explorer_resolutions(held | {b.code for b in earned})
        if still_exploring != exploring:
            await _forget_explored(session, ride.user_id, keep=still_exploring)
    return RideAward(written.get(AwardReason.RIDE.value, 0), earned, verdict)


async def _forget_explored(session: AsyncSession, user_id: uuid.UUID, *, keep: Sequence[int]) -> None:
    """Drop the explorer areas no badge still to earn counts (every explorer badge there is held)."""
    await session.execute(
        sa.delete(ExplorerArea).where(
            col(ExplorerArea.user_id) == user_id, col(ExplorerArea.resolution).not_in(keep)
        )
    )


# --- hazard reports and confirmations ----------------------------------------------------------------


async def _lock_confirmations(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise one user's confirmation awards until the transaction ends, so the daily cap is exact."""
    await hold(session, [lock_key("points-confirmation", str(user_id))])


_FIRST_REPORTS = sa.text(
    """
    SELECT DISTINCT ON (user_id) id, user_id FROM hazard_report
    WHERE hazard_id = :hazard_id AND user_id <> :except_user
    ORDER BY user_id, created_at, id
    """
)


async def _award_reporters(
    session: AsyncSession,
    hazard_id: uuid.UUID,
    reason: AwardReason,
    amount: int,
    *,
    except_user: uuid.UUID | None,
    now: datetime,
    resolution: int,
) -> None:
    """Each reporter's first report on the hazard earns once: filing it five times earns no more."""
    params = {"hazard_id": hazard_id, "except_user": except_user or uuid.UUID(int=0)}
    today = local_date(now)
    relevant = [b for b in CATALOGUE if is_report_badge(b)]
    for report_id, reporter in (await session.execute(_FIRST_REPORTS, params)).all():
        if await award(session, reporter, amount, reason, str(report_id), day=today, now=now):
            await evaluate_open(session, reporter, relevant, now=now, resolution=resolution)


async def award_report_confirmed(
    session: AsyncSession,
    hazard_id: uuid.UUID,
    *,
    confirmer_id: uuid.UUID,
    now: datetime,
    resolution: int = 10,
    rules: PointRules = DEFAULT_RULES,
) -> None:
    """Someone else said "still there": the hazard's reporters earn their report points. Does NOT commit."""
    amount = report_confirmed_points(confirmed_by_reporter=False, rules=rules)
    await _award_reporters(
        session,
        hazard_id,
        AwardReason.REPORT_CONFIRMED,
        amount,
        except_user=confirmer_id,
        now=now,
        resolution=resolution,
    )


async def award_report_acknowledged(
    session: AsyncSession,
    hazard_id: uuid.UUID,
    *,
    now: datetime,
    resolution: int = 10,
    rules: PointRules = DEFAULT_RULES,
) -> None:
    """A planner took the hazard up (acknowledged, planned, resolved): its reporters earn. Does NOT commit."""
    amount = report_acknowledged_points(rules)
    await _award_reporters(
        session,
        hazard_id,
        AwardReason.REPORT_ACKNOWLEDGED,
        amount,
        except_user=None,
        now=now,
        resolution=resolution,
    )


async def award_confirmation(
    session: AsyncSession,
    user_id: uuid.UUID,
    confirmation_id: uuid.UUID,
    *,
    now: datetime,
    resolution: int = 10,
    rules: PointRules = DEFAULT_RULES,
) -> int:
    """Small points for confirming or disputing someone else's report, under the daily cap. Does NOT commit.

    The caller has checked that the user reported nothing on this hazard.
    """
    await _lock_confirmations(session, user_id)
    today = local_date(now)
    already = await _points_on(session, user_id, AwardReason.CONFIRMATION, today)
    amount = confirmation_points(already, own_report=False, rules=rules)
    points = await award(
        session, user_id, amount, AwardReason.CONFIRMATION, str(confirmation_id), day=today, now=now
    )
    relevant = [b for b in CATALOGUE if is_confirmation_badge(b)]
    await evaluate_open(session, user_id, relevant, now=now, resolution=resolution)
    return points
