"""Schools, classes and join codes over HTTP (docs/schools.md); guardian consent is in `api.privacy`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CODES
from api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_time_id_cursor, encode_cursor
from api.schools.wire import (
    ClassCreate,
    ClassCreated,
    ClassOut,
    JoinCodeOut,
    Joined,
    JoinRequest,
    SchoolCreate,
    SchoolOut,
    class_out,
    joined_out,
    school_out,
)
from api.security import authenticated, requires_role, throttled
from domain.accounts.tables import User
from domain.core.codes import CodeHasher
from domain.core.columns import utcnow
from domain.core.enums import Role
from domain.schools import service as school_service

SchoolId = Annotated[uuid.UUID, PathParameter(description="the school id")]
ClassId = Annotated[uuid.UUID, PathParameter(description="the class id")]

JOIN_ATTEMPTS = 10
"""Join attempts per user per quarter hour: join codes are short, so guessing must stay slow."""
STAFF = requires_role(Role.TEACHER, Role.ADMIN)


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

    @get(
        "/",
        guards=[requires_role(Role.PLANNER, Role.ADMIN)],
        summary="The schools, oldest first: the ids a route report needs",
        description="Paginated like every list: pass the answer's nextCursor as cursor for the next page.",
    )
    async def list_all(
        self, db_session: NamedDependency[AsyncSession], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[SchoolOut]:
        rows = await school_service.list_schools(
            db_session, limit=limit + 1, after=decode_time_id_cursor(cursor)
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
        return Page(items=[school_out(s) for s in rows], next_cursor=next_cursor)

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
