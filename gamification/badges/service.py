"""Badges applied to the database: which a user holds, granting new ones exactly once, evaluating open ones.

A grant is an ``INSERT ... ON CONFLICT DO NOTHING`` on ``(user, code)`` in the
transaction of the award that caused it; nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from gamification.badges import store as stats
from gamification.badges.rules import CATALOGUE, Badge, ReportsConfirmed, Threshold, evaluate
from gamification.points.rules import DEFAULT_RULES, PointRules
from gamification.tables import BadgeAward


def is_ride_badge(b: Badge) -> bool:
    return not isinstance(b.rule, ReportsConfirmed) and not is_confirmation_badge(b)


def is_confirmation_badge(b: Badge) -> bool:
    return isinstance(b.rule, Threshold) and b.rule.metric == "confirmations_given"


def is_report_badge(b: Badge) -> bool:
    return isinstance(b.rule, ReportsConfirmed)


async def held_codes(session: AsyncSession, user_id: uuid.UUID) -> set[str]:
    rows = await session.execute(sa.select(col(BadgeAward.code)).where(col(BadgeAward.user_id) == user_id))
    return set(rows.scalars())


async def badges_of(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Badge, datetime]]:
    """The user's badges in catalogue order, with when each was earned (retired codes are left out)."""
    rows = await session.execute(
        sa.select(col(BadgeAward.code), col(BadgeAward.awarded_at)).where(col(BadgeAward.user_id) == user_id)
    )
    earned = {row.code: row.awarded_at for row in rows}
    return [(b, earned[b.code]) for b in CATALOGUE if b.code in earned]


async def grant(
    session: AsyncSession, user_id: uuid.UUID, badges: Sequence[Badge], now: datetime
) -> tuple[Badge, ...]:
    if not badges:
        return ()
    written = await session.execute(
        insert(BadgeAward)
        .values([{"user_id": user_id, "code": b.code, "awarded_at": now} for b in badges])
        .on_conflict_do_nothing()
        .returning(col(BadgeAward.code))
    )
    new = set(written.scalars())
    return tuple(b for b in badges if b.code in new)


async def evaluate_open(
    session: AsyncSession,
    user_id: uuid.UUID,
    relevant: Sequence[Badge],
    *,
    now: datetime,
    resolution: int,
    days: set[date] | None = None,
    rules: PointRules = DEFAULT_RULES,
) -> tuple[Badge, ...]:
    held = await held_codes(session, user_id)
    open_badges = [b for b in relevant if b.code not in held]
    if not open_badges:
        return ()
    snapshot = await stats.user_stats(
        session, user_id, open_badges, resolution=resolution, days=days, rules=rules
    )
    return await grant(session, user_id, evaluate(snapshot, held, open_badges), now)
