"""Consent in SQL: the policy of `privacy.consent.rules`, evaluated inside another statement.

Exports, leaderboards and the danger inputs join these instead of loading
every user's records, so they see consent as it stands when they run.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Mapped
from sqlmodel import col

from domain.accounts.tables import User
from domain.core.enums import ConsentGiver, ConsentPurpose
from privacy.consent.rules import DIGITAL_CONSENT_AGE
from privacy.tables import ConsentRecord

_Column = sa.ColumnElement[Any] | Mapped[Any]


def _effective_sql(
    granted: _Column,
    given_by: _Column,
    birth_year: _Column,
    today: date,
) -> sa.ColumnElement[bool]:
    """`purpose_states`' rule on a latest record: a grant, and a guardian's for a child (:func:`is_child`)."""
    adult = sa.or_(birth_year.is_(None), birth_year <= today.year - 1 - DIGITAL_CONSENT_AGE)
    return sa.and_(granted, sa.or_(adult, given_by == ConsentGiver.GUARDIAN.value))


def effective_consent_subquery(purpose: ConsentPurpose, today: date) -> sa.Select[tuple[uuid.UUID]]:
    """The ids of the users for whom ``purpose`` is effective on ``today``: :func:`purpose_states` in SQL.

    Same rules, same order: the latest record (by ``recorded_at``, then id, as
    the Python policy breaks ties) must be a grant, and for a child (see
    :func:`is_child`) it must have been given by a guardian. Evaluated inside
    the caller's statement, so an export sees consent as it stands *now*.
    """
    latest = (
        select(col(ConsentRecord.user_id), col(ConsentRecord.granted), col(ConsentRecord.given_by))
        .where(col(ConsentRecord.purpose) == purpose.value)
        .ext(distinct_on(col(ConsentRecord.user_id)))
        .order_by(
            col(ConsentRecord.user_id), col(ConsentRecord.recorded_at).desc(), col(ConsentRecord.id).desc()
        )
        .subquery("latest_consent")
    )
    return (
        select(latest.c.user_id)
        .join(User, col(User.id) == latest.c.user_id)
        .where(_effective_sql(latest.c.granted, latest.c.given_by, col(User.birth_year), today))
    )


def consent_effective_for(
    purpose: ConsentPurpose,
    today: date,
    user_id: _Column,
    birth_year: _Column,
) -> sa.ColumnElement[bool]:
    """Whether ``purpose`` is effective on ``today`` for the user of an outer row: one index probe.

    The same rule as :func:`effective_consent_subquery`, correlated to the
    caller's row, for a caller that checks a few users in order (a leaderboard
    walking down its ranking) rather than the set of everyone who consents.
    """
    latest = (
        select(col(ConsentRecord.granted), col(ConsentRecord.given_by))
        .where(col(ConsentRecord.purpose) == purpose.value, col(ConsentRecord.user_id) == user_id)
        .order_by(col(ConsentRecord.recorded_at).desc(), col(ConsentRecord.id).desc())
        .limit(1)
        .correlate_except(ConsentRecord)
        .subquery("latest_consent")
    )
    return sa.exists(
        select(sa.literal(1)).where(_effective_sql(latest.c.granted, latest.c.given_by, birth_year, today))
    )
