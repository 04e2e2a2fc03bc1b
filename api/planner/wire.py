"""Wire types of the planner API and the streamed export responses.

Exports are files (GeoJSON, CSV), not JSON documents: they are streamed with
their own media type and a ``Content-Disposition`` naming the file. The audit
log is an ordinary paginated JSON list.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal

import msgspec
from litestar.params import QueryParameter
from litestar.response import Stream

from api.hazards.wire import BBOX_PATTERN
from api.pagination import decode_time_id_cursor, encode_cursor
from api.routing.wire import route_figures
from api.wire import Out, time_query
from domain.planner.rules import ExportFormat
from domain.planner.street_routes import Approach
from domain.planner.tables import ExportAudit
from privacy.release.rules import Window
from privacy.release.tables import LedgerEntry, PrivacyRelease

Metric = Annotated[
    Literal["danger", "exposure", "hazards"], QueryParameter(description="what each cell shows")
]
Resolution = Annotated[
    int | None,
    QueryParameter(ge=7, le=10, description="H3 resolution, 7 (coarse) to 10; default: the release's"),
]
BBoxText = Annotated[
    str | None,
    QueryParameter(max_length=200, pattern=BBOX_PATTERN, description="minLon,minLat,maxLon,maxLat (WGS84)"),
]
From = Annotated[
    str | None,
    time_query("from", "RFC 3339, truncated to its UTC day; with 'to', or neither: the last month"),
]
To = Annotated[str | None, time_query("to", "RFC 3339; its UTC day is included and must be over")]
Format = Annotated[Literal["geojson", "csv"], QueryParameter(name="format", description="geojson or csv")]


class ExportOut(Out):
    id: uuid.UUID
    actor_id: uuid.UUID | None = msgspec.field(name="actorId")
    actor_role: str
    kind: str
    parameters: dict[str, Any]
    status: str
    cell_count: int | None
    started_at: datetime
    finished_at: datetime | None


def export_out(row: ExportAudit) -> ExportOut:
    return ExportOut(
        id=row.id,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        kind=row.kind,
        parameters=row.parameters,
        status=row.status,
        cell_count=row.cell_count,
        started_at=row.started_at.astimezone(UTC),
        finished_at=None if row.finished_at is None else row.finished_at.astimezone(UTC),
    )


def file_stream(chunks: AsyncIterator[bytes], fmt: ExportFormat, filename: str) -> Stream:
    return Stream(
        chunks,
        media_type=fmt.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class LedgerEntryOut(Out):
    month: str
    epsilon: float
    delta: float
    charged_at: datetime
    release_id: uuid.UUID
    dataset: str
    window: str
    resolution: int
    keys_shown: int
    actor_role: str


class LedgerPage(Out):
    budget_epsilon: float
    spent: dict[str, float]
    items: list[LedgerEntryOut]
    next_cursor: str | None = None


def ledger_out(entry: LedgerEntry, release: PrivacyRelease) -> LedgerEntryOut:
    return LedgerEntryOut(
        month=entry.month.strftime("%Y-%m"),
        epsilon=round(entry.epsilon, 4),
        delta=entry.delta,
        charged_at=entry.charged_at.astimezone(UTC),
        release_id=release.id,
        dataset=release.dataset,
        window=Window(release.first_day, release.last_day).label(),
        resolution=release.resolution,
        keys_shown=release.key_count,
        actor_role=release.actor_role,
    )


def day_id_cursor(month: date, entry_id: uuid.UUID) -> str:
    """The ledger's keyset cursor: (month, id) in the shared cursor form."""
    return encode_cursor(datetime.combine(month, time(), UTC), entry_id)


def decode_day_id_cursor(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    decoded = decode_time_id_cursor(cursor)
    return None if decoded is None else (decoded[0].date(), decoded[1])


def approach_rows(approaches: list[Approach]) -> list[dict[str, Any]]:
    """A school report's ``streetRoutes``: each compass point's route in (figures as GET /routes/safe
    gives them, the streets it takes, its line) or the reason it has none."""
    rows: list[dict[str, Any]] = []
    for a in approaches:
        row: dict[str, Any] = {"from": a.compass}
        if a.start is not None:
            row |= {
                "startLat": round(a.start.lat, 6),
                "startLon": round(a.start.lon, 6),
                "startDistanceM": a.start.distance_m,
            }
        if a.route is None:
            rows.append(row | {"routed": False, "reason": a.reason})
            continue
        streets = [
            {
                "name": s.name,
                "lengthM": round(s.length_m, 1),
                "meanDanger": round(s.mean_danger, 1),
                "separatedM": round(s.separated_m, 1),
            }
            for s in a.streets
        ]
        row |= {"routed": True, "profile": a.route.profile} | msgspec.to_builtins(route_figures(a.route))
        rows.append(row | {"streets": streets, "geometry": a.route.geometry})
    return rows
