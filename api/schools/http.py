"""Schools, classes, join codes and guardian consent over HTTP (docs/schools.md)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from api.accounts.http import client_address
from api.schools.wire import (
    ClassCreate,
    ClassCreated,
    ClassOut,
    GuardianCodeOut,
    GuardianConsentOut,
    GuardianConsentRequest,
    JoinCodeOut,
    Joined,
    JoinRequest,
    SchoolCreate,
    SchoolOut,
    class_out,
    guardian_consent_out,
    joined_out,
    school_out,
)
from api.security import authenticated, requires_role, throttled
from api.settings import Settings
from domain.accounts.tables import User
from domain.core.codes import CodeHasher, normalize
from domain.core.columns import utcnow
from domain.core.enums import Role
from domain.core.ratelimit import RateLimiter
from domain.schools import service as school_service
from privacy.guardians import service as guardian

SchoolId = Annotated[uuid.UUID, PathParameter(description="the school id")]
ClassId = Annotated[uuid.UUID, PathParameter(description="the class id")]

JOIN_ATTEMPTS = 10
"""Join attempts per user per quarter hour: join codes are short, so guessing must stay slow."""
GUARDIAN_ATTEMPTS_PER_ADDRESS = 20
GUARDIAN_ATTEMPTS_PER_CODE = 5
GUARDIAN_CODES_PER_CHILD = 5
STAFF = requires_role(Role.TEACHER, Role.ADMIN)


def provide_codes(state: State) -> CodeHasher:
    settings: Settings = state.settings
    return CodeHasher(settings.secret_key)


CODES = {"codes": Provide(provide_codes, sync_to_thread=False)}


async def limit_guardian_code_attempts(
    state: State, request: Request[Any, Any, Any], code: str, action: str
) -> None:
    """A guardian code is typed without an account: count the attempts per client address and per
    code (each `action` its own budget), so codes cannot be guessed or one code hammered."""
    limiter: RateLimiter = state.rate_limiter
    settings: Settings = state.settings
    hour = timedelta(hours=1)
    address = client_address(request, settings)
    await limiter.hit(f"{action}-addr:{address}", limit=GUARDIAN_ATTEMPTS_PER_ADDRESS, window=hour)
    await limiter.hit(f"{action}-code:{normalize(code)}", limit=GUARDIAN_ATTEMPTS_PER_CODE, window=hour)


class SchoolsController(Controller):
    path = "/schools"
    tags = ["schools"]
    guards = [authenticated]
    dependencies = CODES

    @post("/", status_code=HTTP_201_CREATED, guards=[requires_role(Role.ADMIN)], summary="Create a school")
    async def create(
        self, db_session: NamedDependency[AsyncSession], data: JSONBody[SchoolCreate]
    ) -> SchoolOut:
        school = await school_service.create_school(db_session, name=data.name, lat=data.lat, lon=data.lon)
        return school_out(school)

    @post(
        "/{school_id:uuid}/classes",
        status_code=HTTP_201_CREATED,
        guards=[STAFF],
        summary="Create a class of my school; its join code is shown this once",
    )
    async def create_class(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        codes: NamedDependency[CodeHasher],
        school_id: SchoolId,
        data: JSONBody[ClassCreate],
    ) -> ClassCreated:
        school_class, issued = await school_service.create_class(
            db_session, codes, current_user, school_id, name=data.name, now=utcnow()
        )
        return ClassCreated(
            id=school_class.id,
            school_id=school_class.school_id,
            name=school_class.name,
            join_code=issued.code,
            join_code_expires_at=issued.expires_at,
        )


class ClassesController(Controller):
    path = "/classes"
    tags = ["schools"]
    guards = [authenticated]
    dependencies = CODES

    @post(
        "/join",
        status_code=HTTP_201_CREATED,
        guards=[throttled("class-join", limit=JOIN_ATTEMPTS, window=timedelta(minutes=15))],
        summary="Join a class with its join code",
    )
    async def join(
        self,
        state: State,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        codes: NamedDependency[CodeHasher],
        data: JSONBody[JoinRequest],
    ) -> Joined:
        joined = await school_service.join_class(
            db_session, codes, current_user, data.join_code, now=utcnow()
        )
        return joined_out(joined)

    @get("/{class_id:uuid}", guards=[STAFF], summary="A class of my school: nicknames and aggregates")
    async def read(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        class_id: ClassId,
    ) -> ClassOut:
        return class_out(await school_service.class_view(db_session, current_user, class_id, now=utcnow()))

    @post(
        "/{class_id:uuid}/join-code",
        status_code=HTTP_201_CREATED,
        guards=[STAFF],
        summary="Replace the class's join code; the old one stops working",
    )
    async def rotate(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        codes: NamedDependency[CodeHasher],
        class_id: ClassId,
    ) -> JoinCodeOut:
        issued = await school_service.rotate_join_code(
            db_session, codes, current_user, class_id, now=utcnow()
        )
        return JoinCodeOut(join_code=issued.code, expires_at=issued.expires_at)

    @delete(
        "/{class_id:uuid}/join-code",
        status_code=HTTP_204_NO_CONTENT,
        guards=[STAFF],
        summary="Revoke the class's join code; members stay",
    )
    async def revoke(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        class_id: ClassId,
    ) -> None:
        await school_service.revoke_join_code(db_session, current_user, class_id, now=utcnow())


class GuardianController(Controller):
    path = "/"
    tags = ["guardians"]
    dependencies = CODES

    @post(
        "/guardian-consents",
        status_code=HTTP_201_CREATED,
        summary="A guardian consents for a child under 13 with the child's guardian code (no account)",
    )
    async def consent(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        codes: NamedDependency[CodeHasher],
        data: JSONBody[GuardianConsentRequest],
    ) -> GuardianConsentOut:
        settings: Settings = state.settings
        await limit_guardian_code_attempts(state, request, data.code, "guardian")
        given = await guardian.consent_with_code(
            db_session,
            codes,
            code=data.code,
            relationship=data.relationship,
            purposes=data.purposes,
            policy_version=data.policy_version or settings.privacy_policy_version,
            current_policy_version=settings.privacy_policy_version,
            now=utcnow(),
        )
        return guardian_consent_out(given)

    @post(
        "/me/guardian-code",
        status_code=HTTP_201_CREATED,
        guards=[
            authenticated,
            throttled("guardian-issue", limit=GUARDIAN_CODES_PER_CHILD, window=timedelta(hours=1)),
        ],
        summary="A new guardian code for my guardian (under 13); any older code stops working",
    )
    async def new_code(
        self,
        state: State,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        codes: NamedDependency[CodeHasher],
    ) -> GuardianCodeOut:
        issued = await school_service.issue_guardian_code(db_session, codes, current_user, now=utcnow())
        return GuardianCodeOut(guardian_code=issued.code, expires_at=issued.expires_at)
