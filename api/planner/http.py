"""Planner exports over HTTP: heatmaps, flows, a school's route report, and the audit log of them all.

Every export is k-anonymous, counts only contributions with research_sharing
consent, and is audit-logged before its first byte leaves (docs/danger-model.md).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import PathParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_time_id_cursor, encode_cursor
from api.planner.wire import (
    BBoxText,
    ExportOut,
    Format,
    From,
    Metric,
    Resolution,
    To,
    export_out,
    file_stream,
)
from api.security import Caller, requires_role
from api.settings import Settings
from domain.core.columns import utcnow
from domain.core.enums import Role
from domain.core.errors import InvalidInput
from domain.planner import service as export_service
from domain.planner.route_report import SCHOOL_RADIUS_M, report_bytes, route_report
from domain.planner.rules import ExportFormat, ExportKind, ExportQuery, build_query, parse_time
from domain.planner.service import Actor, list_audit, record

PLANNER = requires_role(Role.PLANNER)
PLANNER_OR_ADMIN = requires_role(Role.PLANNER, Role.ADMIN)
SchoolId = Annotated[uuid.UUID, PathParameter(description="the school id")]


async def _stream(state: State, caller: Caller, query: ExportQuery) -> Stream:
    settings: Settings = state.settings
    now = utcnow()
    chunks = await export_service.open_export(
        state.sessionmaker, query, actor=Actor(caller.id, caller.role.value), k=settings.k_anonymity, now=now
    )
    return file_stream(chunks, query.format, query.filename(now))


class PlannerController(Controller):
    path = "/planner"
    tags = ["planners"]

    @get("/heatmap", guards=[PLANNER], summary="Cells with danger, exposure or hazard figures (k-anonymous)")
    async def heatmap(
        self,
        state: State,
        caller: NamedDependency[Caller],
        metric: Metric = "danger",
        res: Resolution = 10,
        bbox: BBoxText = None,
        from_: From = None,
        to: To = None,
        fmt: Format = "geojson",
    ) -> Stream:
        query = build_query(
            ExportKind.HEATMAP,
            metric=metric,
            resolution=res,
            bbox=bbox,
            since=parse_time(from_, "from"),
            until=parse_time(to, "to"),
            format=fmt,
        )
        return await _stream(state, caller, query)

    @get(
        "/flows", guards=[PLANNER], summary="Passages between adjacent cells: the bicycle flows (k-anonymous)"
    )
    async def flows(
        self,
        state: State,
        caller: NamedDependency[Caller],
        res: Resolution = 10,
        bbox: BBoxText = None,
        from_: From = None,
        to: To = None,
        fmt: Format = "geojson",
    ) -> Stream:
        query = build_query(
            ExportKind.FLOWS,
            resolution=res,
            bbox=bbox,
            since=parse_time(from_, "from"),
            until=parse_time(to, "to"),
            format=fmt,
        )
        return await _stream(state, caller, query)

    @get(
        "/schools/{school_id:uuid}/route-report",
        guards=[PLANNER_OR_ADMIN],
        summary="Cells children ride through to a school, most dangerous first (k-anonymous)",
    )
    async def route_report(
        self,
        state: State,
        db_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
        school_id: SchoolId,
        fmt: Format = "geojson",
    ) -> Response[bytes]:
        settings: Settings = state.settings
        try:
            chosen = ExportFormat(fmt)
        except ValueError:
            raise InvalidInput("format", "Choose geojson or csv.") from None
        now, k = utcnow(), settings.k_anonymity
        report = await route_report(db_session, school_id, k=k, now=now, resolution=settings.h3_resolution)
        params = {"schoolId": str(school_id), "radiusM": SCHOOL_RADIUS_M, "k": k, "format": chosen.value}
        await record(
            state.sessionmaker,
            actor_id=caller.id,
            actor_role=caller.role.value,
            kind=ExportKind.ROUTE_REPORT,
            parameters=params,
            cells=len(report.cells),
        )
        name = f"saferoutes-route-report-{school_id}.{chosen.extension}"
        return Response(
            report_bytes(report, chosen, k=k, now=now),
            media_type=chosen.media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @get("/exports", guards=[PLANNER_OR_ADMIN], summary="The audit log of exports, newest first")
    async def exports_log(
        self, db_session: NamedDependency[AsyncSession], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[ExportOut]:
        rows = await list_audit(db_session, limit=limit + 1, before=decode_time_id_cursor(cursor))
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].started_at, rows[-1].id) if more else None
        return Page(items=[export_out(r) for r in rows], next_cursor=next_cursor)
