"""Wire types of the planner API and the streamed export responses.

Exports are files (GeoJSON, CSV), not JSON documents: they are streamed with
their own media type and a ``Content-Disposition`` naming the file. The audit
log is an ordinary paginated JSON list.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter
from litestar.response import Stream

from api.pagination import decode_cursor
from api.wire import Out
from domain.core.errors import InvalidInput
from domain.planner.rules import ExportFormat
from domain.planner.tables import ExportAudit
from privacy.release.rules import Window
from privacy.release.tables import LedgerEntry, PrivacyRelease

Metric = Annotated[str, QueryParameter(max_length=16, description="danger, exposure or hazards")]
Resolution = Annotated[
    int | None, QueryParameter(description="H3 resolution, 7 (coarse) to 10; default: the release's")
]
BBoxText = Annotated[
    str | None, QueryParameter(max_length=200, description="minLon,minLat,maxLon,maxLat (WGS84)")
]
From = Annotated[
    str | None,
    QueryParameter(
        name="from", max_length=40, description="RFC 3339, truncated to its UTC day; default: last month"
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to", max_length=40, description="RFC 3339; its UTC day is included and must be over"
    ),
]
Format = Annotated[str, QueryParameter(name="format", max_length=16, description="geojson or csv")]


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


def decode_day_id_cursor(cursor: str | None) -> tuple[date, uuid.UUID] | None:
    """The ledger's keyset cursor: (month, id)."""
    decoded = decode_cursor(cursor, size=2)
    if decoded is None:
        return None
    try:
        return date.fromisoformat(decoded[0]), uuid.UUID(decoded[1])
    except ValueError:
        raise InvalidInput("cursor", "The cursor is not one this service gave out.") from None
