"""Challenges applied to the database: create, list and read them, and their leaderboard with its pay-out.

A challenge's standings come from the stored per-challenge totals (or, for
point rules the totals do not count, from the raw rides:
:mod:`gamification.challenges.store`), ranked like any leaderboard
(:mod:`gamification.leaderboards.service`). Reaching the target pays every
contributing member once (the ledger key is the user and the challenge).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.accounts.tables import User
from domain.core.enums import Role
from domain.core.errors import Forbidden, NotFound
from domain.schools import service as school_service
from domain.schools.tables import School
from gamification.challenges import store
from gamification.challenges.rules import ChallengeDraft, check_draft
from gamification.leaderboards.rules import (
    ChallengeMetric,
    Progress,
    progress,
)
from gamification.leaderboards.service import LIST_LIMIT, Board, ensure_may_view, place_of
from gamification.leaderboards.service import board as board_of
from gamification.leaderboards.store import (
    STORED_MIN_TRIP_M,
    board_statement,
    challenge_figures,
)
from gamification.points.rules import DEFAULT_RULES, AwardReason, PointRules, challenge_points
from gamification.streaks import local_date
from gamification.tables import Challenge, PointsEntry


@dataclass(frozen=True, slots=True)
class ChallengeBoard:
    challenge: Challenge
    board: Board
    achieved: float
    progress: Progress | None


async def create_challenge(
    session: AsyncSession, creator: User, draft: ChallengeDraft, *, now: datetime
) -> Challenge:
    """Teachers for their own school or its classes; admins for anything, the city included. Commits."""
    check_draft(draft)
    admin = Role(creator.role) is Role.ADMIN
    school_id: uuid.UUID | None = None
    class_id: uuid.UUID | None = None
    if draft.scope == "city" and not admin:
        raise Forbidden("Only an admin creates city-wide challenges.", code="city-challenge-admin-only")
    if draft.scope == "school" and draft.scope_id is not None:
        if await session.get(School, draft.scope_id) is None:
            raise NotFound("There is no such school.", code="school-not-found")
        if not admin and draft.scope_id not in (await place_of(session, creator)).staff_of:
            raise Forbidden("Only teachers of this school create its challenges.", code="not-school-staff")
        school_id = draft.scope_id
    if draft.scope == "class" and draft.scope_id is not None:
        school_class = await school_service.class_for_staff(session, creator, draft.scope_id)
        school_id, class_id = school_class.school_id, school_class.id
    challenge = Challenge(
        name=draft.name.strip(),
        scope=draft.scope,
        school_id=school_id,
        class_id=class_id,
        metric=draft.metric.value,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        target=draft.target,
        created_by=creator.id,
        created_at=now,
    )
    session.add(challenge)
    await session.commit()
    return challenge


async def get_challenge(session: AsyncSession, challenge_id: uuid.UUID) -> Challenge:
    challenge = await session.get(Challenge, challenge_id)
    if challenge is None:
        raise NotFound("There is no challenge with this id.", code="challenge-not-found")
    return challenge


async def list_challenges(
    session: AsyncSession, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
) -> list[Challenge]:
    """Newest first, ties by id (keyset)."""
    query = sa.select(Challenge)
    if after is not None:
        query = query.where(sa.tuple_(col(Challenge.created_at), col(Challenge.id)) < sa.tuple_(*after))
    query = query.order_by(col(Challenge.created_at).desc(), col(Challenge.id).desc()).limit(limit)
    return list((await session.execute(query)).scalars())


async def _award_completion(
    session: AsyncSession,
    challenge: Challenge,
    contributors: sa.FromClause | None,
    amount: int,
    now: datetime,
) -> None:
    """Every contributing member earns the challenge points once: the ledger key is (user, challenge).

    ``contributors``: the members with a qualifying trip, from the raw rides; None when the standings
    came from the stored totals, which mark whom they paid, so only newcomers are offered the award.
    """
    if contributors is None:
        contributors = store.UNPAID.bindparams(challenge_id=challenge.id).cte("unpaid")
    day = local_date(min(now, challenge.ends_at - timedelta(microseconds=1)))
    rows = sa.select(
        sa.func.gen_random_uuid(),
        contributors.c.user_id,
        sa.literal(amount, sa.Integer()),
        sa.literal(AwardReason.CHALLENGE.value, sa.String()),
        sa.literal(str(challenge.id), sa.String()),
        sa.literal(day, sa.Date()),
        sa.literal(now, sa.DateTime(timezone=True)),
    ).select_from(contributors)
    columns = ["id", "user_id", "amount", "reason", "source", "day", "created_at"]
    statement = (
        insert(PointsEntry)
        .from_select(columns, rows)
        .on_conflict_do_nothing(constraint="uq_points_entry_award")
    )
    await session.execute(statement)
    await session.commit()


def _challenge_figures(
    challenge: Challenge,
    metric: ChallengeMetric,
    rules: PointRules,
    *,
    viewer_id: uuid.UUID,
    now: datetime,
    limit: int,
) -> tuple[sa.CompoundSelect[Any], sa.FromClause | None]:
    """The board statement and the contributing members: from the stored totals (members: None, the
    totals know whom they paid), or the raw rides when ``rules`` count trips the totals do not
    (another ``min_trip_m``)."""
    if rules.min_trip_m == STORED_MIN_TRIP_M:
        figures = challenge_figures(challenge.id)
        statement = board_statement(
            figures,
            challenge.scope,
            challenge.scope_id,
            viewer_id=viewer_id,
            now=now,
            limit=limit,
        )
        return statement, None
    fig = store.ride_figures(metric, challenge.starts_at, challenge.ends_at, rules)
    roster = store.roster(challenge.scope, challenge.scope_id)
    statement = store.ride_board_statement(
        roster.element.cte("roster"), fig.element.cte("fig"), viewer_id=viewer_id, now=now, limit=limit
    )
    return statement, fig.join(roster, roster.c.user_id == fig.c.user_id)


async def challenge_leaderboard(
    session: AsyncSession,
    viewer: User,
    challenge_id: uuid.UUID,
    *,
    now: datetime,
    rules: PointRules = DEFAULT_RULES,
    limit: int = LIST_LIMIT,
) -> ChallengeBoard:
    """Teams (per member), consenting individuals by nickname, progress; pays the target once reached."""
    challenge = await get_challenge(session, challenge_id)
    ensure_may_view(
        await place_of(session, viewer),
        challenge.scope,
        class_id=challenge.class_id,
        school_id=challenge.school_id,
    )
    metric = ChallengeMetric(challenge.metric)
    statement, contributors = _challenge_figures(
        challenge, metric, rules, viewer_id=viewer.id, now=now, limit=limit
    )
    participation = metric is ChallengeMetric.PARTICIPATION
    board = await board_of(
        session,
        statement,
        scope=challenge.scope,
        scope_id=challenge.scope_id,
        window=(challenge.starts_at, challenge.ends_at),
        participation=participation,
    )
    if participation:
        achieved = 100 * board.active / board.members if board.members else 0.0
    else:
        achieved = board.total
    reached = progress(achieved, challenge.target)
    amount = challenge_points(
        target_reached=reached is not None and reached.reached, contributed=True, rules=rules
    )
    if amount:
        await _award_completion(session, challenge, contributors, amount, now)
    return ChallengeBoard(challenge, board, achieved, reached)
