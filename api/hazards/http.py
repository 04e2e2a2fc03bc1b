"""Hazards over HTTP: the category list, reports, confirmations, planner triage, public reads."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from api.hazards.wire import (
    BBoxQuery,
    CategoryList,
    ConfirmationCreate,
    HazardCreate,
    HazardDetail,
    HazardOut,
    PlannerReport,
    ReportReceipt,
    TriagePatch,
    category_list,
    hazard_detail,
    hazard_out,
    parse_bbox,
    planner_report,
    receipt_body,
)
from api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_time_id_cursor, encode_cursor
from api.security import Caller, requires_consent, requires_role, throttled
from domain.accounts.tables import User
from domain.core import idempotency
from domain.core.columns import utcnow
from domain.core.enums import ConsentPurpose, Role
from domain.core.errors import InvalidInput
from domain.hazards import service as hazard_service
from domain.hazards.rules import HazardCategory, HazardStatus, ReportDraft
from domain.hazards.store import HazardFilter, get_hazard, list_hazards, reports_of, status_history

CAN_REPORT = requires_consent(ConsentPurpose.HAZARD_REPORTING)
THROTTLED = throttled("hazard")
CAN_TRIAGE = requires_role(Role.PLANNER, Role.ADMIN)
HazardId = Annotated[uuid.UUID, PathParameter(description="the hazard id")]


@get("/hazard-categories", tags=["hazards"], summary="Hazard categories and severities, in nl, fr and en")
async def hazard_categories() -> CategoryList:
    return category_list()


class HazardController(Controller):
    path = "/hazards"
    tags = ["hazards"]

    @post("/", status_code=HTTP_201_CREATED, guards=[THROTTLED, CAN_REPORT], summary="Report a hazard")
    async def report(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: JSONBody[HazardCreate],
    ) -> Response[ReportReceipt]:
        key = idempotency.check_key(request.headers.get(idempotency.HEADER))
        draft = ReportDraft(
            data.lat, data.lon, data.category, data.severity, data.description, data.observed_at
        )
        stored = await hazard_service.file_report_once(
            db_session,
            current_user,
            draft,
            scope="hazard",
            key=key,
            fingerprint=idempotency.request_fingerprint(await request.body(), "application/json"),
            render=receipt_body,
            now=utcnow(),
            resolution=state.settings.h3_resolution,
        )
        return Response(msgspec.convert(stored.body, ReportReceipt), status_code=stored.status_code)

    @get("/", summary="Public hazards, newest first; no reporter identity")
    async def list_hazards(
        self,
        read_session: NamedDependency[AsyncSession],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
        bbox: BBoxQuery = None,
        category: Annotated[HazardCategory | None, QueryParameter(description="one category")] = None,
        status: Annotated[HazardStatus | None, QueryParameter(description="one status")] = None,
    ) -> Page[HazardOut]:
        where = HazardFilter(
            bbox=parse_bbox(bbox),
            categories=[category] if category else [],
            statuses=[status] if status else [],
        )
        rows = await list_hazards(read_session, where, limit=limit + 1, after=decode_time_id_cursor(cursor))
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
        return Page(items=[hazard_out(h) for h in rows], next_cursor=next_cursor)

    @get("/{hazard_id:uuid}", summary="One hazard with its counts and status history")
    async def read(self, read_session: NamedDependency[AsyncSession], hazard_id: HazardId) -> HazardDetail:
        hazard = await get_hazard(read_session, hazard_id)
        return hazard_detail(hazard, await status_history(read_session, hazard_id))

    @post(
        "/{hazard_id:uuid}/confirmations",
        status_code=HTTP_201_CREATED,
        guards=[THROTTLED, CAN_REPORT],
        summary="Confirm (stillThere) or dispute a hazard, once",
    )
    async def confirm(
        self,
        state: State,
        db_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
        hazard_id: HazardId,
        data: JSONBody[ConfirmationCreate],
    ) -> HazardOut:
        hazard = await hazard_service.confirm(
            db_session, caller.id, hazard_id, still_there=data.still_there, now=utcnow()
        )
        return hazard_out(hazard)

    @patch("/{hazard_id:uuid}", guards=[CAN_TRIAGE], summary="Triage: move the status, set the public note")
    async def triage(
        self,
        db_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
        hazard_id: HazardId,
        data: JSONBody[TriagePatch],
    ) -> HazardDetail:
        if data.status is msgspec.UNSET and data.public_note is msgspec.UNSET:
            raise InvalidInput("status", "Give a status, a publicNote, or both.")
        hazard = await hazard_service.triage(
            db_session,
            hazard_id,
            actor_id=caller.id,
            actor_role=caller.role,
            status=None if isinstance(data.status, msgspec.UnsetType) else data.status,
            public_note=None if isinstance(data.public_note, msgspec.UnsetType) else data.public_note,
            now=utcnow(),
        )
        return hazard_detail(hazard, await status_history(db_session, hazard_id))

    @get("/{hazard_id:uuid}/reports", guards=[CAN_TRIAGE], summary="The reports behind a hazard (planners)")
    async def reports(
        self, db_session: NamedDependency[AsyncSession], hazard_id: HazardId
    ) -> list[PlannerReport]:
        return [planner_report(r) for r in await reports_of(db_session, hazard_id)]
