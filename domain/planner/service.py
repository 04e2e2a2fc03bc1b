"""Planner exports (heatmaps and flows), from the query to the streamed bytes, audited.

The pipeline: one SQL statement aggregates the per-user daily rows to the
requested resolution, keeps only contributions with effective research_sharing
consent and only cells (or flows) with at least k distinct contributors, and is
read through a server-side cursor; each row becomes ``(cell, properties)`` and
goes through the streaming encoders of :mod:`geo.export`. Memory stays flat
whatever the number of cells (``bench/heatmap.py`` measures it).

The encoders are plain generators that *pull* rows; the rows come from an
async cursor. The bridge is SQLAlchemy's own: each chunk is produced inside
``greenlet_spawn``, where the row iterator may ``await_`` the next batch.

The API and the CLI call the same :func:`open_export`, so a file written by
``saferoutes export`` holds the same bytes as the HTTP answer (bar the hour in
``generatedAt``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.util import greenlet_spawn
from sqlmodel import col

from domain.core.columns import utcnow
from domain.danger.rules import CellInputs, HazardInput
from domain.danger.store import (
    active_hazards,
    to_stats,
)
from domain.planner.rules import (
    ExportFormat,
    ExportKind,
    ExportQuery,
    ExportStatus,
    cell_properties,
    columns_of,
)
from domain.planner.store import export_statement, fetched_rows
from domain.planner.tables import ExportAudit
from geo.cells import cell_in_bbox
from geo.export import ExportValue, csv_cells, csv_flows, geojson_cells, geojson_flows


def _cell_rows(
    rows: Iterator[Any],
    query: ExportQuery,
    hazards: Mapping[str, list[HazardInput]],
    now: datetime,
    seen: Callable[[], None],
) -> Iterator[tuple[str, dict[str, ExportValue]]]:
    for row in rows:
        stats = to_stats(row)
        if query.bbox is not None and not cell_in_bbox(stats.cell, query.bbox):
            continue
        seen()
        inputs = CellInputs(
            tuple(hazards.get(stats.cell, ())), stats.near_misses, stats.rides, stats.contributors
        )
        yield stats.cell, cell_properties(query.metric, inputs, now)


def _flow_rows(
    rows: Iterator[Any], query: ExportQuery, seen: Callable[[], None]
) -> Iterator[tuple[str, str, dict[str, ExportValue]]]:
    for src_int, dst_int, count, contributors in rows:
        src = h3.int_to_str(src_int)
        if query.bbox is not None and not cell_in_bbox(src, query.bbox):
            continue
        seen()
        yield src, h3.int_to_str(dst_int), {"count": count, "contributors": contributors}


def encode(
    query: ExportQuery,
    rows: Iterator[Any],
    *,
    hazards: Mapping[str, list[HazardInput]],
    k: int,
    now: datetime,
    seen: Callable[[], None],
) -> Iterator[bytes]:
    """The export's bytes from the statement's rows (sync, pull-based: the encoders of geo.export)."""
    columns = columns_of(query)
    metadata = {name: v for name, v in query.parameters(k).items() if name != "bbox"}
    metadata["generatedAt"] = now
    if query.kind is ExportKind.FLOWS:
        flows = _flow_rows(rows, query, seen)
        if query.format is ExportFormat.CSV:
            return csv_flows(flows, columns=columns)
        return geojson_flows(flows, bbox=query.bbox, metadata=metadata)
    cells = _cell_rows(rows, query, hazards, now, seen)
    if query.format is ExportFormat.CSV:
        return csv_cells(cells, columns=columns)
    return geojson_cells(cells, bbox=query.bbox, metadata=metadata)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who exports: a planner or admin (their id and role), or the command line (no id, role ``cli``)."""

    id: uuid.UUID | None
    role: str


async def open_export(
    sessionmaker: async_sessionmaker[AsyncSession],
    query: ExportQuery,
    *,
    actor: Actor,
    k: int,
    now: datetime,
    progress: Callable[[int], None] | None = None,
) -> AsyncIterator[bytes]:
    """Write the audit row (committed), then return the export's chunks, to be iterated once.

    Call it before sending any header, so a failing audit is an error answer,
    never an unaudited export.
    """
    audit_id = await start(
        sessionmaker,
        actor_id=actor.id,
        actor_role=actor.role,
        kind=query.kind,
        parameters=query.parameters(k),
    )
    return _chunks(sessionmaker, query, audit_id, k=k, now=now, progress=progress)


async def _chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    query: ExportQuery,
    audit_id: uuid.UUID,
    *,
    k: int,
    now: datetime,
    progress: Callable[[int], None] | None,
) -> AsyncIterator[bytes]:
    sent = 0
    completed = False

    def seen() -> None:
        nonlocal sent
        sent += 1
        if progress is not None:
            progress(sent)

    try:
        async with sessionmaker() as session:
            hazards: Mapping[str, list[HazardInput]] = {}
            if query.kind is ExportKind.HEATMAP:
                hazards = await active_hazards(
                    session, resolution=query.resolution, bbox=query.bbox, until=query.until
                )
            result = await session.stream(export_statement(query, k=k, now=now))
            # the CSV encoders peek at the first row when built: build them under greenlet_spawn too
            chunks = await greenlet_spawn(
                encode, query, fetched_rows(result), hazards=hazards, k=k, now=now, seen=seen
            )
            while (chunk := await greenlet_spawn(next, chunks, None)) is not None:
                yield chunk
        completed = True
    finally:
        await finish(sessionmaker, audit_id, cells=sent, completed=completed)


# --- the audit log ----------------------------------------------------------------------------------


async def start(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    actor_id: uuid.UUID | None,
    actor_role: str,
    kind: ExportKind,
    parameters: Mapping[str, Any],
) -> uuid.UUID:
    """Record, in its own committed transaction, that an export is about to leave."""
    async with sessionmaker() as session:
        row = ExportAudit(
            actor_id=actor_id, actor_role=actor_role, kind=kind.value, parameters=dict(parameters)
        )
        session.add(row)
        await session.commit()
        return row.id


async def finish(
    sessionmaker: async_sessionmaker[AsyncSession], audit_id: uuid.UUID, *, cells: int, completed: bool
) -> None:
    """Close an audit row with the number of cells actually sent."""
    status = ExportStatus.COMPLETED if completed else ExportStatus.ABORTED
    async with sessionmaker() as session:
        await session.execute(
            sa.update(ExportAudit)
            .where(col(ExportAudit.id) == audit_id)
            .values(status=status.value, cell_count=cells, finished_at=utcnow())
        )
        await session.commit()


async def record(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    actor_id: uuid.UUID | None,
    actor_role: str,
    kind: ExportKind,
    parameters: Mapping[str, Any],
    cells: int,
) -> None:
    """Audit an export built in memory before sending (a small one): complete from the start."""
    async with sessionmaker() as session:
        now = utcnow()
        session.add(
            ExportAudit(
                actor_id=actor_id,
                actor_role=actor_role,
                kind=kind.value,
                parameters=dict(parameters),
                status=ExportStatus.COMPLETED.value,
                cell_count=cells,
                started_at=now,
                finished_at=now,
            )
        )
        await session.commit()


async def list_audit(
    session: AsyncSession, *, limit: int, before: tuple[datetime, uuid.UUID] | None = None
) -> Sequence[ExportAudit]:
    """Newest first, keyset-paginated on (started_at, id)."""
    stmt = sa.select(ExportAudit).order_by(col(ExportAudit.started_at).desc(), col(ExportAudit.id).desc())
    if before is not None:
        stmt = stmt.where(sa.tuple_(col(ExportAudit.started_at), col(ExportAudit.id)) < sa.tuple_(*before))
    return (await session.execute(stmt.limit(limit))).scalars().all()
