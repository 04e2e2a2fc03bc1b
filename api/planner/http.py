"""Planner exports over HTTP: heatmaps, flows, a school's route report, the audit log and the ledger.

Every figure of people in an export comes from a differentially private
release of consented contributions (docs/privacy.md), and every export is
audit-logged, naming its release, before its first byte leaves.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Annotated, Any

import anyio.to_thread
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_time_id_cursor, encode_cursor
from api.planner.wire import (
    BBoxText,
    ExportOut,
    Format,
    From,
    LedgerPage,
    Metric,
    Resolution,
    To,
    approach_rows,
    day_id_cursor,
    decode_day_id_cursor,
    export_out,
    file_stream,
    ledger_out,
)
from api.replica import ReadRouter
from api.security import Caller, requires_role
from api.settings import Settings
from domain.core.columns import utcnow
from domain.core.enums import Role
from domain.core.errors import InvalidInput
from domain.planner import service as export_service
from domain.planner.route_report import CATCHMENT_M, report_bytes, route_report
from domain.planner.rules import (
    ExportFormat,
    ExportKind,
    ExportQuery,
    build_query,
    export_window,
    parse_time,
)
from domain.planner.service import Actor, list_audit, record
from domain.planner.street_routes import approaches
from domain.routing.graphhopper import export_model
from domain.routing.service import GraphCache
from domain.streets.rules import PROFILES as STREET_PROFILES
from privacy.release import store as release_store

PLANNER = requires_role(Role.PLANNER)
PLANNER_OR_ADMIN = requires_role(Role.PLANNER, Role.ADMIN)
SchoolId = Annotated[uuid.UUID, PathParameter(description="the school id")]


async def _stream(state: State, caller: Caller, query: ExportQuery, now: datetime) -> Stream:
    settings: Settings = state.settings
    reads: ReadRouter = state.reads
    opened = await export_service.open_export(
        state.sessionmaker,
        query,
        actor=Actor(caller.id, caller.role.value),
        policy=settings.release_policy(),
        now=now,
        reads=await reads.sessionmaker(),
    )
    return file_stream(opened.chunks, query.format, query.filename(now))


def _resolution(state: State, res: int | None) -> int:
    settings: Settings = state.settings
    return settings.release_resolution if res is None else res


class PlannerController(Controller):
    path = "/planner"
    tags = ["planners"]

    @get(
        "/heatmap",
        guards=[PLANNER],
        summary="Cells with danger, exposure or hazard figures (a differentially private release)",
    )
    async def heatmap(
        self,
        state: State,
        caller: NamedDependency[Caller],
        metric: Metric = "danger",
        res: Resolution = None,
        bbox: BBoxText = None,
        from_: From = None,
        to: To = None,
        fmt: Format = "geojson",
    ) -> Stream:
        now = utcnow()
        query = build_query(
            ExportKind.HEATMAP,
            today=now.date(),
            metric=metric,
            resolution=_resolution(state, res),
            bbox=bbox,
            since=parse_time(from_, "from"),
            until=parse_time(to, "to"),
            format=fmt,
        )
        return await _stream(state, caller, query, now)

    @get(
        "/flows",
        guards=[PLANNER],
        summary="Passages between adjacent cells: the bicycle flows (a differentially private release)",
    )
    async def flows(
        self,
        state: State,
        caller: NamedDependency[Caller],
        res: Resolution = None,
        bbox: BBoxText = None,
        from_: From = None,
        to: To = None,
        fmt: Format = "geojson",
    ) -> Stream:
        now = utcnow()
        query = build_query(
            ExportKind.FLOWS,
            today=now.date(),
            resolution=_resolution(state, res),
            bbox=bbox,
            since=parse_time(from_, "from"),
            until=parse_time(to, "to"),
            format=fmt,
        )
        return await _stream(state, caller, query, now)

    @get(
        "/schools/{school_id:uuid}/route-report",
        guards=[PLANNER_OR_ADMIN],
        summary="The dangerous cells around a school that people ride, most dangerous first",
    )
    async def route_report(
        self,
        state: State,
        export_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
        school_id: SchoolId,
        fmt: Format = "geojson",
        from_: From = None,
        to: To = None,
    ) -> Response[bytes]:
        settings: Settings = state.settings
        try:
            chosen = ExportFormat(fmt)
        except ValueError:
            raise InvalidInput("format", "Choose geojson or csv.") from None
        now = utcnow()
        window = export_window(parse_time(from_, "from"), parse_time(to, "to"), now.date())
        report = await route_report(
            export_session,
            school_id,
            policy=settings.release_policy(),
            now=now,
            window=window,
            resolution=settings.h3_resolution,
            actor_id=caller.id,
            actor_role=caller.role.value,
        )
        params = {"schoolId": str(school_id), "catchmentM": CATCHMENT_M, "format": chosen.value}
        params |= report.served.describe()
        await record(
            state.sessionmaker,
            actor_id=caller.id,
            actor_role=caller.role.value,
            kind=ExportKind.ROUTE_REPORT,
            parameters=params,
            cells=len(report.cells),
        )
        streets = None
        if chosen is ExportFormat.GEOJSON:
            graphs: GraphCache = state.route_graphs
            graph = await graphs.current_streets()
            if graph is not None:
                school = report.school
                find = functools.partial(approaches, graph, school.lat, school.lon, radius_m=CATCHMENT_M)
                streets = approach_rows(await anyio.to_thread.run_sync(find))
        name = f"saferoutes-route-report-{school_id}.{chosen.extension}"
        return Response(
            report_bytes(report, chosen, now=now, street_routes=streets),
            media_type=chosen.media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @get(
        "/graphhopper-model",
        guards=[PLANNER],
        summary="The street danger as a GraphHopper custom model (JSON), from the last month's release",
        description=(
            "priority rules by road_class and max_speed (the infrastructure priors) and one in_<area> "
            "rule per polygon of the most dangerous released cells (areas: a GeoJSON FeatureCollection). "
            "Send it as custom_model to GraphHopper's POST /route of a bike profile, or put it in a "
            "profile's custom_model_files (docs/streets.md). Audit-logged like every export."
        ),
    )
    async def graphhopper_model(
        self,
        state: State,
        caller: NamedDependency[Caller],
        profile: Annotated[
            str,
            QueryParameter(
                max_length=16, enum=list(STREET_PROFILES), description="the profile it weighs for"
            ),
        ] = "safest",
    ) -> Response[dict[str, Any]]:
        settings: Settings = state.settings
        now = utcnow()
        async with state.sessionmaker() as session:
            exported = await export_model(
                session,
                profile,
                now=now,
                resolution=settings.h3_resolution,
                policy=settings.release_policy(),
            )
        params = {
            "profile": exported.profile,
            "releaseMonth": exported.release_month,
            "areas": exported.areas,
        }
        await record(
            state.sessionmaker,
            actor_id=caller.id,
            actor_role=caller.role.value,
            kind=ExportKind.GRAPHHOPPER_MODEL,
            parameters=params,
            cells=exported.areas,
        )
        name = f"saferoutes-graphhopper-{exported.profile}-{exported.release_month}.json"
        return Response(
            exported.model,
            media_type="application/json",
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

    @get(
        "/privacy-ledger",
        guards=[PLANNER_OR_ADMIN],
        summary="Every release and the privacy loss it charged to each month, newest month first",
    )
    async def privacy_ledger(
        self,
        state: State,
        db_session: NamedDependency[AsyncSession],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> LedgerPage:
        settings: Settings = state.settings
        before = decode_day_id_cursor(cursor)
        rows = await release_store.ledger(db_session, limit=limit + 1, before=before)
        more = len(rows) > limit
        rows = rows[:limit]
        months = sorted({entry.month for entry, _ in rows})
        spent = await release_store.spent(db_session, months)
        last = rows[-1][0] if rows else None
        next_cursor = day_id_cursor(last.month, last.id) if more and last else None
        return LedgerPage(
            budget_epsilon=settings.privacy_budget,
            spent={m.strftime("%Y-%m"): round(v, 4) for m, v in spent.items()},
            items=[ledger_out(entry, release) for entry, release in rows],
            next_cursor=next_cursor,
        )
