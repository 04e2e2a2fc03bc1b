"""Rides over HTTP: POST/GET/DELETE /rides."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_time_id_cursor, encode_cursor
from api.rides.wire import (
    MAX_RIDE_BYTES,
    RideCreated,
    RideDetail,
    RideSummary,
    RideUploadOperation,
    created_body,
    parse_upload,
    ride_detail,
    ride_summary,
)
from api.security import Caller, authenticated, throttled
from domain.core import idempotency
from domain.core.columns import utcnow
from domain.rides import service as ride_service
from domain.rides.rules import PipelineParams

RideId = Annotated[uuid.UUID, PathParameter(description="the ride id")]


class RidesController(Controller):
    path = "/rides"
    tags = ["rides"]
    guards = [authenticated]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        request_max_body_size=MAX_RIDE_BYTES,
        guards=[throttled("ride")],
        operation_class=RideUploadOperation,
        summary="Upload a ride (JSON points or GPX) under an Idempotency-Key",
        description=(
            "Needs the ride_tracking consent (403 otherwise; checked before the body is read). "
            "Stores cells, never coordinates. A retry with the same key and body replays the answer."
        ),
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
    ) -> Response[RideCreated]:
        key = idempotency.check_key(request.headers.get(idempotency.HEADER))
        now = utcnow()
        async with state.read_sessionmaker() as reads:  # autocommit: no BEGIN/ROLLBACK for two reads
            who = await ride_service.uploader(reads, caller.user, today=now.date())
        body = await request.body()
        media_type = request.content_type[0]
        stored = await ride_service.ingest(
            db_session,
            who,
            parse_upload(body, media_type),
            key=key,
            fingerprint=idempotency.request_fingerprint(body, media_type),
            now=now,
            params=ride_service.RideParams(PipelineParams(resolution=state.settings.h3_resolution)),
            render=created_body,
        )
        return Response(msgspec.convert(stored.body, RideCreated), status_code=stored.status_code)

    @get("/", summary="My rides, newest first")
    async def list_rides(
        self,
        db_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> Page[RideSummary]:
        rides = await ride_service.list_rides(
            db_session, caller.id, limit=limit + 1, after=decode_time_id_cursor(cursor)
        )
        more = len(rides) > limit
        rides = rides[:limit]
        next_cursor = encode_cursor(rides[-1].started_at, rides[-1].id) if more else None
        return Page(items=[ride_summary(r) for r in rides], next_cursor=next_cursor)

    @get("/{ride_id:uuid}", summary="One of my rides with its cell path as a GeoJSON Feature")
    async def read(
        self, db_session: NamedDependency[AsyncSession], caller: NamedDependency[Caller], ride_id: RideId
    ) -> RideDetail:
        ride = await ride_service.get_ride(db_session, caller.id, ride_id)
        return ride_detail(ride, await ride_service.cell_path(db_session, ride))

    @delete("/{ride_id:uuid}", status_code=HTTP_204_NO_CONTENT, summary="Delete one of my rides")
    async def remove(
        self, db_session: NamedDependency[AsyncSession], caller: NamedDependency[Caller], ride_id: RideId
    ) -> None:
        await ride_service.delete_ride(db_session, caller.id, ride_id, now=utcnow())
