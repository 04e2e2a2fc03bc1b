"""Planner exports (heatmaps and flows): the release, the audit row, then the streamed bytes.

The figures come from the window's differentially private release
(`privacy.release.service.obtain`: served again when it exists, made and
charged to the privacy budget when not), reshaped by the pure rules of
`domain.planner.rules` and streamed through the encoders of `geo.export`.
The audit row is committed before the first byte leaves, naming the release.

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

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from domain.core.columns import utcnow
from domain.danger.rules import HazardInput
from domain.danger.store import active_hazards
from domain.planner.rules import (
    ExportFormat,
    ExportKind,
    ExportQuery,
    ExportStatus,
    columns_of,
    flow_rows,
    heatmap_rows,
)
from domain.planner.tables import ExportAudit
from geo.export import ExportValue, csv_cells, csv_flows, geojson_cells, geojson_flows
from privacy.release.rules import ReleasePolicy
from privacy.release.service import Served, obtain
from privacy.release.tables import Dataset


@dataclass(frozen=True, slots=True)
class Actor:
    """Who exports: a planner or admin (their id and role), or the command line (no id, role ``cli``)."""

    id: uuid.UUID | None
    role: str


@dataclass(frozen=True, slots=True)
class Opened:
    """An audited export, ready to stream once: its rows (for a progress bar) and its chunks."""

    rows: int
    chunks: AsyncIterator[bytes]


def _metadata(query: ExportQuery, served: Served | None, now: datetime) -> dict[str, ExportValue]:
    meta: dict[str, ExportValue] = {k: v for k, v in query.parameters().items() if k != "bbox"}
    if served is not None:
        meta.update(served.describe())
    meta["generatedAt"] = now
    return meta


def encode(
    query: ExportQuery,
    served: Served | None,
    hazards: Mapping[str, list[HazardInput]],
    *,
    release_resolution: int,
    now: datetime,
) -> tuple[list[Any], Callable[[Iterator[Any]], Iterator[bytes]]]:
    """The export's rows and the encoder that turns them into bytes (pure post-processing)."""
    columns, meta = columns_of(query), _metadata(query, served, now)
    if query.kind is ExportKind.FLOWS:
        flows = list(flow_rows(query, served.flows() if served else {}))
        if query.format is ExportFormat.CSV:
            return flows, lambda rows: csv_flows(rows, columns=columns)
        return flows, lambda rows: geojson_flows(rows, bbox=query.bbox, metadata=meta)
    cells = list(heatmap_rows(query, served.cells() if served else {}, release_resolution, hazards, now))
    if query.format is ExportFormat.CSV:
        return cells, lambda rows: csv_cells(rows, columns=columns)
    return cells, lambda rows: geojson_cells(rows, bbox=query.bbox, metadata=meta)


async def open_export(
    sessionmaker: async_sessionmaker[AsyncSession],
    query: ExportQuery,
    *,
    actor: Actor,
    policy: ReleasePolicy,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    reads: async_sessionmaker[AsyncSession] | None = None,
) -> Opened:
    """Obtain the release and the public hazards, write the audit row (committed), and return the
    chunks, to be iterated once. Call it before sending any header: a refused release (budget) or a
    failing audit is an error answer, never an unaudited export.

    ``reads``: where the release and the hazards are read (a replica's sessions, whose missing
    release is made on the primary); ``sessionmaker`` by default. The audit row is written with
    ``sessionmaker``, the primary's."""
    query.check_release_resolution(policy.resolution)
    served: Served | None = None
    async with (reads or sessionmaker)() as session:
        if query.needs_release:
            dataset = Dataset.FLOWS if query.kind is ExportKind.FLOWS else Dataset.CELLS
            served = await obtain(
                session, dataset, query.window, policy, now=now, actor_id=actor.id, actor_role=actor.role
            )
        hazards: Mapping[str, list[HazardInput]] = {}
        if query.kind is ExportKind.HEATMAP:
            hazards = await active_hazards(
                session, resolution=query.resolution, bbox=query.bbox, until_day=query.window.last
            )
    rows, encoder = encode(query, served, hazards, release_resolution=policy.resolution, now=now)
    parameters = dict(query.parameters()) | (served.describe() if served else {})
    audit_id = await start(
        sessionmaker, actor_id=actor.id, actor_role=actor.role, kind=query.kind, parameters=parameters
    )
    return Opened(len(rows), _chunks(sessionmaker, rows, encoder, audit_id, progress))


async def _chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: list[Any],
    encoder: Callable[[Iterator[Any]], Iterator[bytes]],
    audit_id: uuid.UUID,
    progress: Callable[[int], None] | None,
) -> AsyncIterator[bytes]:
    sent = 0
    completed = False

    def counted() -> Iterator[Any]:
        nonlocal sent
        for row in rows:
            sent += 1
            if progress is not None:
                progress(sent)
            yield row

    try:
        for chunk in encoder(counted()):
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
