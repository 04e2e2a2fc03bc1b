"""Self-service privacy: GET /me/export, and a guardian erasing a child's account (DELETE /me: api.me)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.schools.http import CODES, limit_guardian_code_attempts
from api.security import Caller, authenticated
from api.wire import Strict
from domain.core.codes import CodeHasher
from domain.core.columns import utcnow
from privacy.guardians import service as guardian
from privacy.selfservice import service as self_service

ExportFormat = Annotated[
    Literal["json", "gpx"], QueryParameter(description="json: every row held about you; gpx: your rides")
]


class GuardianErasure(Strict):
    code: Annotated[str, msgspec.Meta(min_length=4, max_length=64)]


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
