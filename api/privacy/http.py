"""Privacy over HTTP: consents, privacy zones, the self-service export, guardian consent and erasure.

`DELETE /me` (erasure by the user) is the account's (`api.accounts.http`);
it runs `privacy.selfservice.service.erase` like the guardian's erasure here.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter, PathParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.deps import CODES, client_address
from api.privacy.wire import (
    ConsentEntry,
    ConsentOverview,
    ConsentRequest,
    ExportFormat,
    GuardianCodeOut,
    GuardianConsentOut,
    GuardianConsentRequest,
    GuardianErasure,
    ZoneCreate,
    ZoneOut,
    consent_entry,
    consent_summaries,
    guardian_consent_out,
    zone_out,
)
from api.security import Caller, authenticated, throttled
from api.settings import Settings
from domain.accounts.tables import User
from domain.core.codes import CodeHasher, normalize
from domain.core.columns import utcnow
from domain.core.enums import ConsentPurpose
from domain.core.ratelimit import RateLimiter
from domain.schools import service as school_service
from privacy.consent import service as consent
from privacy.consent.rules import is_child, purpose_states
from privacy.guardians import service as guardian
from privacy.selfservice import service as self_service
from privacy.zones import service as zone_service

ZoneId = Annotated[uuid.UUID, PathParameter(description="the privacy zone id")]
GUARDIAN_ATTEMPTS_PER_ADDRESS = 20
GUARDIAN_ATTEMPTS_PER_CODE = 5
GUARDIAN_CODES_PER_CHILD = 5


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


class ConsentsController(Controller):
    path = "/me/consents"
    tags = ["me"]
    guards = [authenticated]

    @get("/", summary="My consent per purpose, and its full history")
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
            purposes=consent_summaries(purpose_states(records, child=child)),
            history=[consent_entry(r) for r in records],
        )

    @put("/{purpose:str}", summary="Grant or withdraw consent for one purpose")
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
        entry = consent_entry(record)
        await db_session.commit()
        return entry


class PrivacyZonesController(Controller):
    path = "/me/privacy-zones"
    tags = ["me"]
    guards = [authenticated]

    @get("/", summary="My privacy zones: circles where none of my traces are kept")
    async def list_zones(
        self, db_session: NamedDependency[AsyncSession], caller: NamedDependency[Caller]
    ) -> list[ZoneOut]:
        return [zone_out(z) for z in await zone_service.list_zones(db_session, caller.id)]

    @post("/", status_code=HTTP_201_CREATED, summary="Add a privacy zone (at most 10)")
    async def add(
        self,
        db_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
        data: JSONBody[ZoneCreate],
    ) -> ZoneOut:
        zone = await zone_service.add_zone(
            db_session, caller.id, lat=data.lat, lon=data.lon, radius_m=data.radius_m, now=utcnow()
        )
        return zone_out(zone)

    @delete("/{zone_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete one of my privacy zones")
    async def remove(
        self, db_session: NamedDependency[AsyncSession], caller: NamedDependency[Caller], zone_id: ZoneId
    ) -> None:
        await zone_service.delete_zone(db_session, caller.id, zone_id)


async def _json(sessionmaker: async_sessionmaker[AsyncSession], caller: Caller) -> AsyncIterator[bytes]:
    async with sessionmaker() as session:
        async for chunk in self_service.export_json(session, caller.id, now=utcnow()):
            yield chunk


async def _gpx(sessionmaker: async_sessionmaker[AsyncSession], caller: Caller) -> AsyncIterator[bytes]:
    async with sessionmaker() as session:
        async for piece in self_service.export_gpx(session, caller.id):
            yield piece.encode()


class MyDataController(Controller):
    path = "/me"
    tags = ["me"]
    guards = [authenticated]

    @get(
        "/export",
        summary="Everything held about me, as one JSON document (or my rides as GPX)",
        description="Streamed. Secrets that protect you (password and token hashes) are left out.",
    )
    async def export(
        self, state: State, caller: NamedDependency[Caller], format: ExportFormat = "json"
    ) -> Stream:
        stamp = utcnow().strftime("%Y%m%d")
        if format == "gpx":
            return Stream(
                _gpx(state.sessionmaker, caller),
                media_type="application/gpx+xml",
                headers={"Content-Disposition": f'attachment; filename="saferoutes-rides-{stamp}.gpx"'},
            )
        return Stream(
            _json(state.sessionmaker, caller),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="saferoutes-export-{stamp}.json"'},
        )


class GuardianErasureController(Controller):
    path = "/guardian-erasures"
    tags = ["guardians"]
    dependencies = CODES

    @post(
        "/",
        status_code=HTTP_204_NO_CONTENT,
        summary="A guardian erases the child's account with the guardian code they consented with",
    )
    async def erase_child(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        codes: NamedDependency[CodeHasher],
        data: JSONBody[GuardianErasure],
    ) -> None:
        await limit_guardian_code_attempts(state, request, data.code, "guardian-erase")
        child = await guardian.child_for_guardian(db_session, codes, data.code)
        await self_service.erase(db_session, child.id, now=utcnow())
        await db_session.commit()


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
