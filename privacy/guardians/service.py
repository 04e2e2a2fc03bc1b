"""Guardian consent for children under 13, through a code the child hands to a guardian.

The guardian has no account: holding the child's guardian code is the
authority. The code works once for consent, within `GUARDIAN_CODE_TTL`; after
that first consent it stays valid for guardian management only
(`child_for_guardian`, which the later "guardian erases the child's account"
use case needs) until the child asks for a new code, which replaces it. Every
consent it records is an ordinary consent record with `given_by = guardian` and
the relationship, so the history demonstrates who consented to what and when.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.tables import User
from domain.core.codes import GUARDIAN_CODE_LENGTH, CodeHasher, IssuedCode, new_code
from domain.core.enums import ConsentGiver, ConsentPurpose
from domain.core.errors import Conflict, InvalidInput
from privacy.consent import service as consent
from privacy.consent.rules import is_child
from privacy.tables import ConsentRecord, GuardianCode

GUARDIAN_CODE_TTL = timedelta(days=14)
HASH_PURPOSE = "guardian"


class GuardianRelationship(StrEnum):
    PARENT = "parent"
    LEGAL_GUARDIAN = "legal_guardian"
    OTHER = "other"


@dataclass(frozen=True)
class GuardianConsent:
    child_nickname: str
    relationship: GuardianRelationship
    records: list[ConsentRecord]


def _live(child_id: uuid.UUID) -> sa.ColumnElement[bool]:
    table = GuardianCode.__table__.c  # type: ignore[attr-defined]
    return sa.and_(table.child_id == child_id, table.revoked_at.is_(None))


async def has_guardian(session: AsyncSession, child_id: uuid.UUID) -> bool:
    """Whether a guardian has consented through the child's current code."""
    table = GuardianCode.__table__.c  # type: ignore[attr-defined]
    query = sa.select(sa.exists().where(_live(child_id), table.used_at.is_not(None)))
    return bool((await session.execute(query)).scalar_one())


async def issue_code(session: AsyncSession, codes: CodeHasher, child: User, *, now: datetime) -> IssuedCode:
    """A new guardian code for a child; every older code of the child dies. Flushes, does not commit."""
    if not is_child(child.birth_year, now.date()):
        raise Conflict("Only accounts of children under 13 need a guardian code.", code="guardian-not-needed")
    await session.execute(sa.update(GuardianCode).where(_live(child.id)).values(revoked_at=now))
    code = new_code(GUARDIAN_CODE_LENGTH)
    expires_at = now + GUARDIAN_CODE_TTL
    session.add(
        GuardianCode(
            child_id=child.id,
            code_hash=codes.hash(HASH_PURPOSE, code),
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return IssuedCode(code=code, expires_at=expires_at)


async def code_for_new_member(
    session: AsyncSession, codes: CodeHasher, user: User, *, now: datetime
) -> IssuedCode | None:
    """A child joining a class gets a code unless a guardian has already consented."""
    if not is_child(user.birth_year, now.date()) or await has_guardian(session, user.id):
        return None
    return await issue_code(session, codes, user, now=now)


async def consent_with_code(
    session: AsyncSession,
    codes: CodeHasher,
    *,
    code: str,
    relationship: GuardianRelationship,
    purposes: Sequence[ConsentPurpose],
    policy_version: str,
    current_policy_version: str,
    now: datetime,
) -> GuardianConsent:
    """Record the guardian's grant for each purpose and use the code up; commits."""
    row = (
        await session.execute(
            sa.select(GuardianCode)
            .where(GuardianCode.code_hash == codes.hash(HASH_PURPOSE, code))  # type: ignore[arg-type]
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        raise InvalidInput(
            "code",
            "This guardian code is unknown or was replaced by a newer one.",
            code="invalid-guardian-code",
        )
    if row.used_at is not None:
        raise Conflict("This guardian code has already been used to consent.", code="guardian-code-used")
    if row.expires_at <= now:
        raise InvalidInput(
            "code",
            "This guardian code has expired; the child can ask the app for a new one.",
            code="guardian-code-expired",
        )
    child = await session.get(User, row.child_id)
    if child is None:  # pragma: no cover - the code goes with the account (ON DELETE CASCADE)
        raise InvalidInput("code", "This guardian code is unknown.", code="invalid-guardian-code")
    records = [
        await consent.record(
            session,
            child,
            purpose,
            granted=True,
            policy_version=policy_version,
            current_policy_version=current_policy_version,
            given_by=ConsentGiver.GUARDIAN,
            guardian_relationship=relationship.value,
        )
        for purpose in dict.fromkeys(purposes)
    ]
    row.used_at = now
    await session.commit()
    return GuardianConsent(child_nickname=child.nickname, relationship=relationship, records=records)


async def child_for_guardian(session: AsyncSession, codes: CodeHasher, code: str) -> User:
    """The child a consented guardian code manages (for guardian actions after consent).

    Raises 422 on `code` unless the code was used for consent and not replaced.
    """
    table = GuardianCode.__table__.c  # type: ignore[attr-defined]
    query = (
        sa.select(User)
        .join(GuardianCode, table.child_id == User.id)
        .where(
            table.code_hash == codes.hash(HASH_PURPOSE, code),
            table.used_at.is_not(None),
            table.revoked_at.is_(None),
        )
    )
    child = (await session.execute(query)).scalar_one_or_none()
    if child is None:
        raise InvalidInput(
            "code", "This guardian code does not manage an account.", code="invalid-guardian-code"
        )
    return child
