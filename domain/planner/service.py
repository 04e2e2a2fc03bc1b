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
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession, async_sessionmaker
from sqlalchemy.util import await_, greenlet_spawn

from domain.core.enums import ConsentPurpose
from domain.core.errors import InvalidInput
from domain.danger.rules import CellInputs, HazardInput, danger_score
from domain.danger.store import (
    COVER_RESOLUTION,
    active_hazards,
    cell_stats_statement,
    cover_cells,
    parent_cell_sql,
    table_of,
    to_stats,
)
from domain.planner import tables as exports
from domain.planner.rules import HeatmapMetric
from domain.planner.tables import ExportKind
from domain.rides.tables import CellTransition
from geo.cells import BBox, cell_in_bbox, check_resolution, parse_bbox
from geo.export import ExportValue, csv_cells, csv_flows, geojson_cells, geojson_flows
from privacy.consent.store import effective_consent_subquery

MAX_WINDOW_DAYS: Final = 400
FETCH_ROWS: Final = 2_000

EXPOSURE_COLUMNS: Final = ("rides", "nearMisses", "contributors")
HAZARD_COLUMNS: Final = ("hazards", "maxSeverity", "reports", "confirmations", "disputes", "contributors")
DANGER_COLUMNS: Final = (
    "danger",
    "hazardEvidence",
    "exposureFactor",
    "nearMissEvidence",
    "hazards",
    "maxSeverity",
    "reports",
    "confirmations",
    "disputes",
    "nearMisses",
    "rides",
    "contributors",
)
FLOW_COLUMNS: Final = ("count", "contributors")


class ExportFormat(StrEnum):
    GEOJSON = "geojson"
    CSV = "csv"

    @property
    def media_type(self) -> str:
        return "application/geo+json" if self is ExportFormat.GEOJSON else "text/csv; charset=utf-8"

    @property
    def extension(self) -> str:
        return "geojson" if self is ExportFormat.GEOJSON else "csv"


@dataclass(frozen=True, slots=True)
class ExportQuery:
    """A checked export request. ``since``/``until`` are already truncated to their UTC day."""

    kind: ExportKind
    metric: HeatmapMetric
    resolution: int
    bbox: BBox | None
    since: datetime | None
    until: datetime | None
    format: ExportFormat

    def parameters(self, k: int) -> dict[str, ExportValue]:
        """What the audit log and the GeoJSON metadata say about the export (no personal data)."""
        box = self.bbox
        params: dict[str, ExportValue] = {
            "metric": self.metric.value if self.kind is ExportKind.HEATMAP else None,
            "resolution": self.resolution,
            "bbox": None if box is None else f"{box.min_lon},{box.min_lat},{box.max_lon},{box.max_lat}",
            "fromDay": None if self.since is None else self.since.date().isoformat(),
            "toDay": None if self.until is None else self.until.date().isoformat(),
            "format": self.format.value,
            "k": k,
        }
        if self.kind is ExportKind.FLOWS:
            del params["metric"]
        return params

    def filename(self, now: datetime) -> str:
        what = self.metric.value if self.kind is ExportKind.HEATMAP else "flows"
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H00Z")
        return f"saferoutes-{what}-res{self.resolution}-{stamp}.{self.format.extension}"


def _day_start(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput(field, "Give a time zone (RFC 3339, e.g. 2026-06-01T00:00:00Z).")
    day = moment.astimezone(UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_time(text: str | None, field: str) -> datetime | None:
    """An RFC 3339 time with its offset (``2026-06-01T00:00:00Z``); a date alone means its UTC midnight."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, "Give an RFC 3339 time, e.g. 2026-06-01T00:00:00Z.") from None
    return moment if moment.tzinfo is not None or "T" in text else moment.replace(tzinfo=UTC)


def build_query(
    kind: ExportKind,
    *,
    metric: str = HeatmapMetric.DANGER.value,
    resolution: int = 10,
    bbox: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    format: str = ExportFormat.GEOJSON.value,
    max_area_km2: float | None = None,
) -> ExportQuery:
    """Check every parameter; an error names the query parameter (metric, res, bbox, from, to)."""
    try:
        chosen_metric = HeatmapMetric(metric)
    except ValueError:
        raise InvalidInput("metric", "Choose danger, exposure or hazards.") from None
    try:
        chosen_format = ExportFormat(format)
    except ValueError:
        raise InvalidInput("format", "Choose geojson or csv.") from None
    check_resolution(resolution)
    box = None
    if bbox is not None:
        box = parse_bbox(bbox) if max_area_km2 is None else parse_bbox(bbox, max_area_km2=max_area_km2)
    start = None if since is None else _day_start(since, "from")
    end = None if until is None else _day_start(until, "to")
    if start is not None and end is not None:
        if start > end:
            raise InvalidInput("from", "'from' must not be after 'to'.")
        if end - start >= timedelta(days=MAX_WINDOW_DAYS):
            raise InvalidInput("to", f"A time window may cover at most {MAX_WINDOW_DAYS} days.")
    return ExportQuery(kind, chosen_metric, resolution, box, start, end, chosen_format)


def cell_properties(metric: HeatmapMetric, inputs: CellInputs, now: datetime) -> dict[str, ExportValue]:
    """The metric's values for one cell; counts and scores only, the names of ``*_COLUMNS``."""
    score = danger_score(inputs, now)
    if metric is HeatmapMetric.DANGER:
        return dict(score.properties())
    if metric is HeatmapMetric.EXPOSURE:
        return {"rides": inputs.rides, "nearMisses": inputs.near_misses, "contributors": inputs.contributors}
    props = score.properties()
    return {name: props[name] for name in HAZARD_COLUMNS}


def _columns(query: ExportQuery) -> tuple[str, ...]:
    if query.kind is ExportKind.FLOWS:
        return FLOW_COLUMNS
    return {
        HeatmapMetric.DANGER: DANGER_COLUMNS,
        HeatmapMetric.EXPOSURE: EXPOSURE_COLUMNS,
        HeatmapMetric.HAZARDS: HAZARD_COLUMNS,
    }[query.metric]


def flow_stats_statement(
    *,
    resolution: int,
    bbox: BBox | None,
    since: datetime | None,
    until: datetime | None,
    today: Any,
    min_contributors: int,
) -> sa.Select[int, int, int, int]:
    """``(src, dst, traversals, contributors)`` between distinct parents at ``resolution``, k-filtered."""
    tr = table_of(CellTransition).alias("t")
    src, dst = parent_cell_sql(tr.c.from_cell, resolution), parent_cell_sql(tr.c.to_cell, resolution)
    people = sa.func.count(sa.distinct(tr.c.user_id))
    stmt = (
        sa.select(src, dst, sa.cast(sa.func.sum(tr.c.traversals), sa.Integer), sa.cast(people, sa.Integer))
        .where(
            src != dst, tr.c.user_id.in_(effective_consent_subquery(ConsentPurpose.RESEARCH_SHARING, today))
        )
        .group_by(src, dst)
        .having(people >= min_contributors)
        .order_by(src, dst)
    )
    if since is not None:
        stmt = stmt.where(tr.c.day >= since.date())
    if until is not None:
        stmt = stmt.where(tr.c.day <= until.date())
    if bbox is not None:
        cover = sa.bindparam("cover", cover_cells(bbox), type_=sa.ARRAY(sa.BigInteger))
        stmt = stmt.where(parent_cell_sql(tr.c.from_cell, COVER_RESOLUTION) == sa.func.any(cover))
    return stmt


def _statement(query: ExportQuery, *, k: int, now: datetime) -> sa.Select[int, int, int, int]:
    window: dict[str, Any] = {
        "resolution": query.resolution,
        "bbox": query.bbox,
        "since": query.since,
        "until": query.until,
        "today": now.astimezone(UTC).date(),
        "min_contributors": k,
    }
    if query.kind is ExportKind.FLOWS:
        return flow_stats_statement(**window)
    return cell_stats_statement(research_only=True, **window)


async def count_rows(session: AsyncSession, query: ExportQuery, *, k: int, now: datetime) -> int:
    """How many rows the export's query yields (before the exact bbox rule): the CLI's progress total."""
    stmt = _statement(query, k=k, now=now).order_by(None).subquery()
    return int((await session.execute(sa.select(sa.func.count()).select_from(stmt))).scalar_one())


def _fetched(result: AsyncResult[int, int, int, int]) -> Iterator[Any]:
    """Rows of an async cursor for sync code running under ``greenlet_spawn``."""
    while batch := await_(result.fetchmany(FETCH_ROWS)):
        yield from batch


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
    columns = _columns(query)
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
    audit_id = await exports.start(
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
            result = await session.stream(_statement(query, k=k, now=now))
            # the CSV encoders peek at the first row when built: build them under greenlet_spawn too
            chunks = await greenlet_spawn(
                encode, query, _fetched(result), hazards=hazards, k=k, now=now, seen=seen
            )
            while (chunk := await greenlet_spawn(next, chunks, None)) is not None:
                yield chunk
        completed = True
    finally:
        await exports.finish(sessionmaker, audit_id, cells=sent, completed=completed)


__all__ = [
    "DANGER_COLUMNS",
    "EXPOSURE_COLUMNS",
    "FLOW_COLUMNS",
    "HAZARD_COLUMNS",
    "MAX_WINDOW_DAYS",
    "Actor",
    "ExportFormat",
    "ExportQuery",
    "build_query",
    "cell_properties",
    "count_rows",
    "encode",
    "open_export",
    "parse_time",
]
