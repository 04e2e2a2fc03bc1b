"""What a planner export shows: the request's rules, and its rows as post-processing of a release.

No figure of people leaves except from a differentially private release
(`privacy.release`): a map at the release's resolution shows its cells, a
coarser one sums released children (so subtracting resolutions reveals
nothing), a finer danger or hazard map shares a released cell's exposure
equally among its children. Hazards are public facts (``GET /hazards`` shows
them), so their figures are exact at any resolution, and a cell with a
hazard is shown whether or not the release shows people there. Everything
here only reads released values and public data: it costs no privacy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Final

import h3

from domain.core.errors import InvalidInput
from domain.danger.rules import DEFAULT_PARAMS, CellInputs, DangerParams, HazardInput, danger_score
from domain.hazards.rules import ACTIVE_STATUSES
from geo.cells import BBox, cell_in_bbox, check_resolution, parse_bbox
from geo.export import ExportValue
from privacy.release.mechanism import Released
from privacy.release.rules import (
    Window,
    closed_window,
    coarsen_cells,
    coarsen_flows,
    last_closed_month,
    refine_cells,
)

PropertyValue = int | float | str | bool | None


class HeatmapMetric(StrEnum):
    DANGER = "danger"
    EXPOSURE = "exposure"
    HAZARDS = "hazards"


def hazard_values(hazards: Iterable[HazardInput]) -> dict[str, ExportValue]:
    active = [h for h in hazards if h.status in ACTIVE_STATUSES]
    return {
        "hazards": len(active),
        "maxSeverity": max((h.severity for h in active), default=0),
        "reports": sum(h.reports for h in active),
        "confirmations": sum(h.confirmations for h in active),
        "disputes": sum(h.disputes for h in active),
    }


def _figures_at(values: Mapping[int, Released], base: int, resolution: int) -> dict[str, tuple[float, float]]:
    """(people, passes) per cell at ``resolution``, from a release at ``base``: sums or shares."""
    if resolution <= base:
        return {
            h3.int_to_str(c): (v.contributors, v.passes) for c, v in coarsen_cells(values, resolution).items()
        }
    return {h3.int_to_str(c): (p, n) for c, (p, n, _) in refine_cells(values, resolution).items()}


def _count(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 1)


def heatmap_rows(
    query: ExportQuery,
    released: Mapping[int, Released],
    release_resolution: int,
    hazards: Mapping[str, list[HazardInput]],
    now: datetime,
    params: DangerParams = DEFAULT_PARAMS,
) -> Iterator[tuple[str, dict[str, ExportValue]]]:
    """``(cell, properties)`` in cell order: released cells and cells with a public hazard.

    At a resolution finer than the release only cells with a hazard are
    shown (a share of a released figure alone says nothing new about a child).
    """
    if query.metric is HeatmapMetric.HAZARDS:
        for cell in sorted(hazards):
            if query.bbox is None or cell_in_bbox(cell, query.bbox):
                yield cell, hazard_values(hazards[cell])
        return
    people = _figures_at(released, release_resolution, query.resolution)
    finer = query.resolution > release_resolution
    cells = (
        set(hazards)
        if finer
        else set(people) | (set(hazards) if query.metric is HeatmapMetric.DANGER else set())
    )
    for cell in sorted(cells):
        if query.bbox is not None and not cell_in_bbox(cell, query.bbox):
            continue
        contributors, passes = people.get(cell, (0.0, 0.0))
        if query.metric is HeatmapMetric.EXPOSURE:
            yield cell, {"rides": _count(passes), "nearMisses": 0, "contributors": _count(contributors)}
            continue
        inputs = CellInputs(tuple(hazards.get(cell, ())), 0, round(passes), round(contributors))
        values: dict[str, ExportValue] = dict(danger_score(inputs, now, params).properties())
        values["rides"], values["contributors"] = _count(passes), _count(contributors)
        yield cell, values


def flow_rows(
    query: ExportQuery, released: Mapping[tuple[int, int], Released]
) -> Iterator[tuple[str, str, dict[str, ExportValue]]]:
    """``(src, dst, properties)`` of released flows, summed to the query's (coarser or equal) resolution."""
    flows = coarsen_flows(released, query.resolution)
    for (src, dst), figures in sorted(flows.items()):
        a = h3.int_to_str(src)
        if query.bbox is None or cell_in_bbox(a, query.bbox):
            yield a, h3.int_to_str(dst), {"count": figures.passes, "contributors": figures.contributors}


class ExportKind(StrEnum):
    HEATMAP = "heatmap"
    FLOWS = "flows"
    ROUTE_REPORT = "route-report"
    GRAPHHOPPER_MODEL = "graphhopper"


class ExportStatus(StrEnum):
    STARTED = "started"
    COMPLETED = "completed"
    ABORTED = "aborted"


CLI_ACTOR = "cli"


MAX_WINDOW_DAYS: Final = 400

EXPOSURE_COLUMNS: Final = ("rides", "nearMisses", "contributors")
HAZARD_COLUMNS: Final = ("hazards", "maxSeverity", "reports", "confirmations", "disputes")
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
    """A checked export request: what, at which resolution, where, and the UTC days of its release."""

    kind: ExportKind
    metric: HeatmapMetric
    resolution: int
    bbox: BBox | None
    window: Window
    format: ExportFormat

    @property
    def needs_release(self) -> bool:
        """Hazard maps show public hazards only; every other figure comes from a release."""
        return self.kind is ExportKind.FLOWS or self.metric is not HeatmapMetric.HAZARDS

    def parameters(self) -> dict[str, ExportValue]:
        """What the audit log and the GeoJSON metadata say about the export (no personal data)."""
        box = self.bbox
        params: dict[str, ExportValue] = {
            "metric": self.metric.value if self.kind is ExportKind.HEATMAP else None,
            "resolution": self.resolution,
            "bbox": None if box is None else f"{box.min_lon},{box.min_lat},{box.max_lon},{box.max_lat}",
            "fromDay": self.window.first.isoformat(),
            "toDay": self.window.last.isoformat(),
            "format": self.format.value,
        }
        if self.kind is ExportKind.FLOWS:
            del params["metric"]
        return params

    def filename(self, now: datetime) -> str:
        what = self.metric.value if self.kind is ExportKind.HEATMAP else "flows"
        stamp = now.astimezone(UTC).strftime("%Y%m%dT%H00Z")
        return f"saferoutes-{what}-res{self.resolution}-{stamp}.{self.format.extension}"

    def check_release_resolution(self, release_resolution: int) -> None:
        """Exposure and flows exist at the release's resolution or coarser; danger and hazard maps
        may be finer (hazards are public; the release's exposure is shared out over the children)."""
        if self.resolution > release_resolution and (
            self.kind is ExportKind.FLOWS or self.metric is HeatmapMetric.EXPOSURE
        ):
            raise InvalidInput(
                "res",
                f"Figures of people are released at resolution {release_resolution}: ask for"
                f" res {release_resolution} or coarser (danger and hazard maps may be finer).",
                code="finer-than-release",
                releaseResolution=release_resolution,
            )


def _day(moment: datetime, field: str) -> date:
    if moment.tzinfo is None:
        raise InvalidInput(field, "Give a time zone (RFC 3339, e.g. 2026-06-01T00:00:00Z).")
    return moment.astimezone(UTC).date()


def parse_time(text: str | None, field: str) -> datetime | None:
    """An RFC 3339 time with its offset (``2026-06-01T00:00:00Z``); a date alone means its UTC midnight."""
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(field, "Give an RFC 3339 time, e.g. 2026-06-01T00:00:00Z.") from None
    return moment if moment.tzinfo is not None or "T" in text else moment.replace(tzinfo=UTC)


def export_window(since: datetime | None, until: datetime | None, today: date) -> Window:
    """The last month that is over, or the planner's days (both given, over, at most a year or so)."""
    if since is None and until is None:
        return last_closed_month(today)
    if since is None or until is None:
        missing = "from" if since is None else "to"
        raise InvalidInput(missing, "Give both 'from' and 'to', or neither for the last whole month.")
    first, last = _day(since, "from"), _day(until, "to")
    if first > last:
        raise InvalidInput("from", "'from' must not be after 'to'.")
    if (last - first).days + 1 > MAX_WINDOW_DAYS:
        raise InvalidInput("to", f"A time window may cover at most {MAX_WINDOW_DAYS} days.")
    return closed_window(first, last, today)


def build_query(
    kind: ExportKind,
    *,
    today: date,
    metric: str = HeatmapMetric.DANGER.value,
    resolution: int = 8,
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
    window = export_window(since, until, today)
    return ExportQuery(kind, chosen_metric, resolution, box, window, chosen_format)


def columns_of(query: ExportQuery) -> tuple[str, ...]:
    if query.kind is ExportKind.FLOWS:
        return FLOW_COLUMNS
    return {
        HeatmapMetric.DANGER: DANGER_COLUMNS,
        HeatmapMetric.EXPOSURE: EXPOSURE_COLUMNS,
        HeatmapMetric.HAZARDS: HAZARD_COLUMNS,
    }[query.metric]
