"""Consent use cases: read a user's history and states, record a grant or withdrawal, require a purpose.

The rules themselves are in `privacy.consent.rules`; nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.tables import User
from domain.core.enums import ConsentGiver, ConsentPurpose
from domain.core.errors import ConsentRequired, InvalidInput
from privacy.consent.rules import PurposeState, is_child, purpose_states
from privacy.tables import ConsentRecord


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
