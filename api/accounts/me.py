"""The caller's own account: profile and consents (GET/PATCH /me, /me/consents)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import authenticated
from api.settings import Settings
from api.wire import BirthYear, Nickname, Out, Strict
from domain.accounts import service as auth
from domain.accounts.tables import User
from domain.core.columns import utcnow
from domain.core.enums import ConsentPurpose
from gamification.points import service as gamification
from privacy.consent import service as consent
from privacy.consent.rules import PurposeState, is_child, purpose_states
from privacy.selfservice import service as self_service
from privacy.tables import ConsentRecord


class ConsentSummary(Out):
    purpose: str
    effective: bool
    granted: bool | None
    given_by: str | None
    policy_version: str | None
    recorded_at: datetime | None
    guardian_consent_required: bool


class Profile(Out):
    id: uuid.UUID
    handle: str
    nickname: str
    roles: list[str]
    birth_year: int | None
    is_child: bool
    created_at: datetime
    consents: list[ConsentSummary]
    points_total: int = 0


class ProfilePatch(Strict):
    nickname: Nickname | msgspec.UnsetType = msgspec.UNSET
    birth_year: BirthYear | msgspec.UnsetType | None = msgspec.UNSET


class ConsentRequest(Strict):
    granted: bool
    policy_version: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class ConsentEntry(Out):
    id: uuid.UUID
    purpose: str
    granted: bool
    policy_version: str
    recorded_at: datetime
    given_by: str
    guardian_relationship: str | None


class ConsentOverview(Out):
    current_policy_version: str
    is_child: bool
    purposes: list[ConsentSummary]
    history: list[ConsentEntry]


def _summaries(states: dict[ConsentPurpose, PurposeState]) -> list[ConsentSummary]:
    return [
        ConsentSummary(
            purpose=s.purpose.value,
            effective=s.effective,
            granted=s.granted,
            given_by=s.given_by.value if s.given_by else None,
            policy_version=s.policy_version,
            recorded_at=s.recorded_at,
            guardian_consent_required=s.guardian_needed,
        )
        for s in states.values()
    ]


def _entry(record: ConsentRecord) -> ConsentEntry:
    return ConsentEntry(
        id=record.id,
        purpose=record.purpose,
        granted=record.granted,
        policy_version=record.policy_version,
        recorded_at=record.recorded_at,
        given_by=record.given_by,
        guardian_relationship=record.guardian_relationship,
    )


async def profile_of(session: AsyncSession, user: User) -> Profile:
    today = utcnow().date()
    states = await consent.states_for(session, user, today=today)
    return Profile(
        id=user.id,
        handle=user.handle,
        nickname=user.nickname,
        roles=[user.role],
        birth_year=user.birth_year,
        is_child=is_child(user.birth_year, today),
        created_at=user.created_at,
        consents=_summaries(states),
        points_total=await gamification.points_total(session, user.id),
    )


class MeController(Controller):
    path = "/me"
    tags = ["me"]
    guards = [authenticated]

    @get("/", summary="My profile, role and consent summary")
    async def read(
        self, db_session: NamedDependency[AsyncSession], current_user: NamedDependency[User]
    ) -> Profile:
        return await profile_of(db_session, current_user)

    @delete("/", status_code=HTTP_204_NO_CONTENT, summary="Erase my account and everything tied to it")
    async def erase(
        self, db_session: NamedDependency[AsyncSession], current_user: NamedDependency[User]
    ) -> None:
        """GDPR art. 17, in one transaction; see `privacy.self_service.erase`."""
        await self_service.erase(db_session, current_user.id, now=utcnow())
        await db_session.commit()

    @patch("/", summary="Change my nickname, or declare my birth year once")
    async def update(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: JSONBody[ProfilePatch],
    ) -> Profile:
        user = await auth.update_profile(
            db_session,
            current_user,
            nickname=None if data.nickname is msgspec.UNSET else data.nickname,
            birth_year=None if isinstance(data.birth_year, msgspec.UnsetType) else data.birth_year,
            set_birth_year=data.birth_year is not msgspec.UNSET,
        )
        return await profile_of(db_session, user)

    @get("/consents", summary="My consent per purpose, and its full history")
    async def consents(
        self, state: State, db_session: NamedDependency[AsyncSession], current_user: NamedDependency[User]
    ) -> ConsentOverview:
        settings: Settings = state.settings
        today = utcnow().date()
        records = await consent.history(db_session, current_user.id)
        child = is_child(current_user.birth_year, today)
        return ConsentOverview(
            current_policy_version=settings.privacy_policy_version,
            is_child=child,
            purposes=_summaries(purpose_states(records, child=child)),
            history=[_entry(r) for r in records],
        )

    @put("/consents/{purpose:str}", summary="Grant or withdraw consent for one purpose")
    async def set_consent(
        self,
        state: State,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: JSONBody[ConsentRequest],
        purpose: Annotated[ConsentPurpose, Parameter(description="the purpose of processing")],
    ) -> ConsentEntry:
        settings: Settings = state.settings
        record = await consent.record(
            db_session,
            current_user,
            purpose,
            granted=data.granted,
            policy_version=data.policy_version,
            current_policy_version=settings.privacy_policy_version,
        )
        entry = _entry(record)
        await db_session.commit()
        return entry
