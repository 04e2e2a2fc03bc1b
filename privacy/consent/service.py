"""Consent per purpose: the policy (pure) and the service functions that apply it.

Rules, in plain words:
- Each grant or withdrawal is appended; nothing is updated or deleted, so the
  history demonstrates who consented to which policy text and when.
- The latest record for a purpose decides. A withdrawal always takes effect.
- For a child under 13 only a guardian's grant makes a purpose effective; the
  child's own grant is recorded but has no effect (GDPR art. 8, Belgium: 13).
- We hold a birth year, not a birth date, so we are conservative: a person is
  treated as a child until the calendar year in which they surely are 13.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped
from sqlmodel import col

from domain.accounts.tables import ConsentRecord, User
from domain.core.enums import ConsentGiver, ConsentPurpose
from domain.core.errors import ConsentRequired, InvalidInput

DIGITAL_CONSENT_AGE = 13
_Column = sa.ColumnElement[Any] | Mapped[Any]


def is_child(birth_year: int | None, today: date) -> bool:
    """True while the user may still be under 13 (only the birth year is known)."""
    if birth_year is None:
        return False
    return today.year - birth_year - 1 < DIGITAL_CONSENT_AGE


@dataclass(frozen=True)
class PurposeState:
    purpose: ConsentPurpose
    effective: bool
    granted: bool | None
    given_by: ConsentGiver | None
    policy_version: str | None
    recorded_at: datetime | None
    guardian_needed: bool


class ConsentEntry(Protocol):
    """What `purpose_states` reads of a record: a `ConsentRecord`, or a plain row of one."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def purpose(self) -> str: ...
    @property
    def granted(self) -> bool: ...
    @property
    def given_by(self) -> str: ...
    @property
    def policy_version(self) -> str: ...
    @property
    def recorded_at(self) -> datetime: ...


def purpose_states(records: Iterable[ConsentEntry], *, child: bool) -> dict[ConsentPurpose, PurposeState]:
    """The state of every purpose from a user's records (any order)."""
    latest: dict[str, ConsentEntry] = {}
    for record in records:
        current = latest.get(record.purpose)
        if current is None or (record.recorded_at, str(record.id)) > (current.recorded_at, str(current.id)):
            latest[record.purpose] = record
    states: dict[ConsentPurpose, PurposeState] = {}
    for purpose in ConsentPurpose:
        rec = latest.get(purpose.value)
        granted = rec.granted if rec else None
        giver = ConsentGiver(rec.given_by) if rec else None
        effective = bool(granted) and (not child or giver is ConsentGiver.GUARDIAN)
        states[purpose] = PurposeState(
            purpose=purpose,
            effective=effective,
            granted=granted,
            given_by=giver,
            policy_version=rec.policy_version if rec else None,
            recorded_at=rec.recorded_at if rec else None,
            guardian_needed=child and not effective and granted is not False,
        )
    return states


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


async def history(session: AsyncSession, user_id: uuid.UUID) -> Sequence[ConsentRecord]:
    result = await session.execute(
        select(ConsentRecord)
        .where(ConsentRecord.user_id == user_id)  # type: ignore[arg-type]
        .order_by(ConsentRecord.recorded_at, ConsentRecord.id)  # type: ignore[arg-type]
    )
    return result.scalars().all()


async def states_for(session: AsyncSession, user: User, *, today: date) -> dict[ConsentPurpose, PurposeState]:
    return purpose_states(await history(session, user.id), child=is_child(user.birth_year, today))


async def record(
    session: AsyncSession,
    user: User,
    purpose: ConsentPurpose,
    *,
    granted: bool,
    policy_version: str,
    current_policy_version: str,
    given_by: ConsentGiver = ConsentGiver.SELF,
    guardian_relationship: str | None = None,
) -> ConsentRecord:
    """Append a grant or a withdrawal. A grant must name the policy text in force."""
    if granted and policy_version != current_policy_version:
        raise InvalidInput(
            "policyVersion",
            f"Consent must be given to the current privacy policy version '{current_policy_version}'.",
            code="stale-policy-version",
            currentPolicyVersion=current_policy_version,
        )
    entry = ConsentRecord(
        user_id=user.id,
        purpose=purpose.value,
        granted=granted,
        policy_version=policy_version,
        given_by=given_by.value,
        guardian_relationship=guardian_relationship,
    )
    session.add(entry)
    await session.flush()
    return entry


async def require(session: AsyncSession, user: User, purpose: ConsentPurpose, *, today: date) -> None:
    """Refuse processing for `purpose` unless it has effective consent (403 with the purpose named)."""
    state = (await states_for(session, user, today=today))[purpose]
    if not state.effective:
        raise ConsentRequired(purpose.value, guardian_needed=is_child(user.birth_year, today))
