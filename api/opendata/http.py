"""Open data the FIWARE way: a read-only NGSI-LD context API over hazards and cell statistics.

``GET /ngsi-ld/v1/entities?type=Alert|SafeRoutesCellStatistic`` (one type per
request, ``id``/``attrs``/``limit``/``offset``/``options=keyValues``/``count``;
no ``q`` or geo-queries) and ``GET /ngsi-ld/v1/entities/{id}``. Public: hazards
are public already, cell statistics are k-anonymous and count only people who
consented to research sharing (docs/open-data.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.opendata.wire import (
    CONTEXT_PATH,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NgsiError,
    bad_request,
    handle_ngsi_error,
    query_entities,
    read_entity,
    shape,
)
from domain.opendata import rules as ngsi

_OPTION = "(?:keyValues|simplified|normalized|count)"
Options = Annotated[
    str | None,
    QueryParameter(
        max_length=64, pattern=rf"^{_OPTION}(?:,{_OPTION})*$", description="keyValues, normalized, count"
    ),
]
EntityType = Literal["Alert", "SafeRoutesCellStatistic"]
MAX_OFFSET = 10_000_000
"""Far beyond any city's entities; PostgreSQL's OFFSET is a 64-bit integer, so an unbounded one was a 500."""
Attrs = Annotated[
    str | None, QueryParameter(max_length=1000, description="attributes to keep, comma-separated")
]


class NgsiController(Controller):
    path = "/ngsi-ld/v1"
    tags = ["open data"]
    exception_handlers = {NgsiError: handle_ngsi_error}

    @get("/entities", summary="NGSI-LD entities of one type: Alert (hazards) or SafeRoutesCellStatistic")
    async def entities(
        self,
        request: Request[Any, Any, Any],
        state: State,
        read_session: NamedDependency[AsyncSession],
        type_: Annotated[EntityType | None, QueryParameter(name="type", description="required")] = None,
        id_: Annotated[str | None, QueryParameter(name="id", max_length=4000)] = None,
        attrs: Attrs = None,
        options: Options = None,
        count: Annotated[bool, QueryParameter(description="send NGSILD-Results-Count")] = False,
        limit: Annotated[int, QueryParameter(ge=0, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
    ) -> Response[Any]:
        if "q" in request.query_params:  # not in the document: the service has no query language
            raise bad_request("Query language (q) filters are not supported: filter with type, id and attrs.")
        if type_ not in ngsi.ENTITY_TYPES:
            raise bad_request(f"Give one type: {' or '.join(ngsi.ENTITY_TYPES)}.")
        wanted = shape(request, options, attrs)
        ids = [i.strip() for i in id_.split(",") if i.strip()] if id_ else []
        count = count or "count" in (options or "")
        found, total = await query_entities(
            read_session, state.settings, kind=type_, ids=ids, limit=limit, offset=offset, count=count
        )
        headers = wanted.headers() | ({"NGSILD-Results-Count": str(total)} if total is not None else {})
        return Response(wanted.body(found), media_type=wanted.media_type, headers=headers)

    @get("/entities/{entity_id:str}", summary="One NGSI-LD entity by its URN")
    async def entity(
        self,
        request: Request[Any, Any, Any],
        state: State,
        read_session: NamedDependency[AsyncSession],
        entity_id: Annotated[str, PathParameter(description="urn:ngsi-ld:<type>:<key>")],
        attrs: Attrs = None,
        options: Options = None,
    ) -> Response[Any]:
        wanted = shape(request, options, attrs)
        found = await read_entity(read_session, state.settings, entity_id)
        return Response(wanted.one(found), media_type=wanted.media_type, headers=wanted.headers())


@get(CONTEXT_PATH, tags=["open data"], summary="The JSON-LD @context of the open-data entities")
async def ngsi_context() -> Response[dict[str, Any]]:
    return Response(ngsi.context_document(), media_type="application/ld+json")
