"""From per-cell figures to what may leave the system: coarser cells, k-anonymity, metric values.

The export pipeline, all pure and in this order::

    rows (res 10, consenting contributors only)
      → aggregate_cells / aggregate_flows (to the requested resolution)
      → heatmap_rows / flow_rows (k-anonymity, then the metric's values)
      → geo.export encoders

Why contributor *sets*: distinct people do not add up. Two children of a cell
with 3 contributors each may share all three; the parent has 3, not 6, and a
sum would let a cell with fewer than k people pass the k rule. So a row carries
the pseudonymous keys of its contributors (user ids as text, or an HMAC of
them) and aggregation takes their union. The keys are never exported: only
their count, and only for cells where it reaches k.

Rides, near misses and flow counts, on the other hand, *are* summed: at a
coarser resolution ``rides`` counts passages through the res-10 children, so
a ride that crosses three children of a parent counts three times. That keeps
the near-miss rate (near misses per passage, also summed) comparable across
resolutions; distinct rides per coarse cell, if ever needed, would need ride
keys the same way contributors do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final, Protocol, TypeVar

import h3

from domain.core.errors import InvalidInput
from domain.danger.rules import DEFAULT_PARAMS, CellInputs, DangerParams, HazardInput, danger_score
from domain.hazards.rules import ACTIVE_STATUSES
from geo.cells import BBox, check_resolution, parse_bbox
from geo.export import ExportValue

PropertyValue = int | float | str | bool | None


class HasContributors(Protocol):
    """Anything the k rule can judge: a cell, a flow, or a database row that counted in SQL."""

    @property
    def contributor_count(self) -> int: ...


Row = TypeVar("Row", bound=HasContributors)


@dataclass(frozen=True, slots=True)
class CellRow:
    """One cell's figures at some resolution, restricted to contributors with research_sharing consent."""

    cell: str
    rides: int = 0
    near_misses: int = 0
    contributors: frozenset[str] = field(default_factory=frozenset)
    hazards: tuple[HazardInput, ...] = ()

    @property
    def contributor_count(self) -> int:
        return len(self.contributors)

    def inputs(self) -> CellInputs:
        return CellInputs(self.hazards, self.near_misses, self.rides, len(self.contributors))


@dataclass(frozen=True, slots=True)
class FlowRow:
    """Passages from ``src`` into the adjacent cell ``dst`` (direction kept: one-way streets matter)."""

    src: str
    dst: str
    count: int
    contributors: frozenset[str] = field(default_factory=frozenset)

    @property
    def contributor_count(self) -> int:
        return len(self.contributors)


class HeatmapMetric(StrEnum):
    DANGER = "danger"
    EXPOSURE = "exposure"
    HAZARDS = "hazards"


def _parent(cell: str, resolution: int) -> str:
    own = h3.get_resolution(cell)
    if own < resolution:
        raise ValueError(f"a resolution-{own} cell cannot be split into resolution {resolution}")
    return cell if own == resolution else str(h3.cell_to_parent(cell, resolution))


@dataclass(slots=True)
class _CellSum:
    rides: int = 0
    near_misses: int = 0
    contributors: set[str] = field(default_factory=set)
    hazards: list[HazardInput] = field(default_factory=list)


def aggregate_cells(rows: Iterable[CellRow], resolution: int) -> list[CellRow]:
    """Merge rows into their ancestors at ``resolution``: sums, contributor union, hazards pooled.

    Rows already at ``resolution`` are merged with any duplicates; finer ones
    go to their parent; coarser ones are a ValueError (they cannot be split).
    The output is sorted by cell, so an export is reproducible.
    """
    sums: dict[str, _CellSum] = {}
    for row in rows:
        key = _parent(row.cell, resolution)
        acc = sums.get(key)
        if acc is None:
            acc = sums[key] = _CellSum()
        acc.rides += row.rides
        acc.near_misses += row.near_misses
        acc.contributors.update(row.contributors)
        acc.hazards.extend(row.hazards)
    return [
        CellRow(cell, acc.rides, acc.near_misses, frozenset(acc.contributors), tuple(acc.hazards))
        for cell, acc in sorted(sums.items())
    ]


def aggregate_flows(rows: Iterable[FlowRow], resolution: int) -> list[FlowRow]:
    """Flows between the ancestors at ``resolution``; a pair whose ends share a parent is inside one cell
    and is dropped. Parents of adjacent cells are themselves adjacent (checked around Mechelen in the tests).
    """
    sums: dict[tuple[str, str], tuple[int, set[str]]] = {}
    for row in rows:
        src, dst = _parent(row.src, resolution), _parent(row.dst, resolution)
        if src == dst:
            continue
        count, people = sums.get((src, dst), (0, set()))
        people.update(row.contributors)
        sums[(src, dst)] = (count + row.count, people)
    return [
        FlowRow(src, dst, count, frozenset(people)) for (src, dst), (count, people) in sorted(sums.items())
    ]


def k_anonymous(rows: Iterable[Row], k: int) -> Iterator[Row]:
    """Only rows with at least ``k`` distinct contributors, however many rides they count.

    Volume is no protection: a hundred rides by four people still describe
    four people's habits.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    return (row for row in rows if row.contributor_count >= k)


def _hazard_values(row: CellRow) -> dict[str, PropertyValue]:
    active = [h for h in row.hazards if h.status in ACTIVE_STATUSES]
    return {
        "hazards": len(active),
        "maxSeverity": max((h.severity for h in active), default=0),
        "reports": sum(h.reports for h in active),
        "confirmations": sum(h.confirmations for h in active),
        "disputes": sum(h.disputes for h in active),
    }


def heatmap_rows(
    cells: Iterable[CellRow],
    *,
    metric: HeatmapMetric,
    k: int,
    now: datetime,
    params: DangerParams = DEFAULT_PARAMS,
) -> Iterator[tuple[str, dict[str, PropertyValue]]]:
    """``(cell, properties)`` for the k-anonymous cells, lazily, in the shape :mod:`geo.export` reads.

    Properties hold counts and scores only: no contributor keys, ids or times.
    """
    for row in k_anonymous(cells, k):
        values: dict[str, PropertyValue]
        if metric is HeatmapMetric.DANGER:
            values = dict(danger_score(row.inputs(), now, params).properties())
        elif metric is HeatmapMetric.EXPOSURE:
            values = {
                "rides": row.rides,
                "nearMisses": row.near_misses,
                "contributors": row.contributor_count,
            }
        else:
            values = _hazard_values(row)
        yield row.cell, values


def flow_rows(flows: Iterable[FlowRow], *, k: int) -> Iterator[tuple[str, str, dict[str, PropertyValue]]]:
    """``(src, dst, properties)`` for the k-anonymous flows."""
    for row in k_anonymous(flows, k):
        yield row.src, row.dst, {"count": row.count, "contributors": row.contributor_count}


__all__ = [
    "CellRow",
    "FlowRow",
    "HasContributors",
    "HeatmapMetric",
    "PropertyValue",
    "aggregate_cells",
    "aggregate_flows",
    "flow_rows",
    "heatmap_rows",
    "k_anonymous",
]


# --- the export request -----------------------------------------------------------------------------


class ExportKind(StrEnum):
    HEATMAP = "heatmap"
    FLOWS = "flows"
    ROUTE_REPORT = "route-report"


class ExportStatus(StrEnum):
    STARTED = "started"
    COMPLETED = "completed"
    ABORTED = "aborted"


CLI_ACTOR = "cli"


MAX_WINDOW_DAYS: Final = 400

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
        return (
            "application/geo+json" if self is ExportFormat.GEOJSON else "text/csv"
        )  # the charset is added once

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


def columns_of(query: ExportQuery) -> tuple[str, ...]:
    if query.kind is ExportKind.FLOWS:
        return FLOW_COLUMNS
    return {
        HeatmapMetric.DANGER: DANGER_COLUMNS,
        HeatmapMetric.EXPOSURE: EXPOSURE_COLUMNS,
        HeatmapMetric.HAZARDS: HAZARD_COLUMNS,
    }[query.metric]
