"""The daily open-data dump: hazards and k-anonymous cell statistics as CSV and GeoJSON files.

Four files for the city's open-data portal, the same content as the NGSI-LD
API (:mod:`domain.opendata.store`) in the formats portals and GIS tools read:
``hazards.csv``, ``hazards.geojson`` (points), ``cells.csv``, ``cells.geojson``
(hexagons, via the planner export encoders of :mod:`geo.export`). Times are
truncated to the hour, positions are ``[lon, lat]``; no file names a person.
Each file is written to ``NAME.part`` and renamed when complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from domain.hazards.categories import CATEGORIES, sdm_severity
from domain.hazards.rules import HazardCategory
from domain.opendata import store as open_data
from domain.opendata.rules import CellStatistic, PublicHazard
from domain.opendata.store import CellWindow
from geo.export import ExportValue, csv_cells, csv_chunks, format_hour, geojson_cells
from privacy.release.rules import Window, last_closed_month, month_window

HAZARD_COLUMNS: Final = (
    "id",
    "lat",
    "lon",
    "category",
    "sdmSubCategory",
    "severity",
    "sdmSeverity",
    "status",
    "reports",
    "confirmations",
    "disputes",
    "publicNote",
    "createdAt",
    "updatedAt",
)
CELL_COLUMNS: Final = (
    "rides",
    "nearMisses",
    "contributors",
    "activeHazards",
    "danger",
    "fromDay",
    "toDay",
    "epsilon",
    "delta",
)
PAGE: Final = 1000


def hazard_properties(hazard: PublicHazard) -> dict[str, Any]:
    info = CATEGORIES[HazardCategory(hazard.category)]
    return {
        "id": str(hazard.id),
        "lat": hazard.lat,
        "lon": hazard.lon,
        "category": hazard.category,
        "sdmSubCategory": info.sdm_sub_category,
        "severity": hazard.severity,
        "sdmSeverity": sdm_severity(hazard.severity),
        "status": hazard.status,
        "reports": hazard.report_count,
        "confirmations": hazard.confirmation_count,
        "disputes": hazard.dispute_count,
        "publicNote": hazard.public_note or "",
        "createdAt": format_hour(hazard.created_at),
        "updatedAt": format_hour(hazard.updated_at),
    }


def hazards_csv(hazards: Iterable[PublicHazard]) -> Iterator[bytes]:
    """One row per hazard; a planner's public note is text from outside, escaped like every CSV cell."""
    rows = ([hazard_properties(h)[name] for name in HAZARD_COLUMNS] for h in hazards)
    return csv_chunks(HAZARD_COLUMNS, rows)


def hazards_geojson(hazards: Iterable[PublicHazard], *, generated_at: datetime) -> Iterator[str]:
    yield '{"type":"FeatureCollection","generatedAt":' + json.dumps(format_hour(generated_at))
    yield ',"features":['
    for i, hazard in enumerate(hazards):
        props = hazard_properties(hazard)
        point = {"type": "Point", "coordinates": [props.pop("lon"), props.pop("lat")]}
        feature = {"type": "Feature", "id": props["id"], "geometry": point, "properties": props}
        yield ("," if i else "") + json.dumps(feature, separators=(",", ":"), ensure_ascii=False)
    yield "]}\n"


def cell_rows(cells: Iterable[CellStatistic]) -> Iterator[tuple[str, dict[str, ExportValue]]]:
    for stat in cells:
        yield (
            stat.cell,
            {
                "rides": stat.rides,
                "nearMisses": stat.near_misses,
                "contributors": stat.contributors,
                "activeHazards": stat.active_hazards,
                "danger": round(stat.danger_score, 1),
                "fromDay": stat.since.date().isoformat(),
                "toDay": stat.until.date().isoformat(),
                "epsilon": round(stat.epsilon, 4),
                "delta": stat.delta,
            },
        )


@dataclass(frozen=True, slots=True)
class DumpResult:
    hazards: int
    cells: int
    files: tuple[Path, ...]


def _write(path: Path, chunks: Iterable[str | bytes]) -> Path:
    part = path.with_name(path.name + ".part")
    try:
        with part.open("wb") as out:
            for chunk in chunks:
                out.write(chunk.encode() if isinstance(chunk, str) else chunk)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)
    return path


async def dump(
    session: AsyncSession,
    out_dir: Path,
    window: CellWindow,
    *,
    now: datetime,
    progress: Callable[[str, int, int], None] = lambda step, done, total: None,
) -> DumpResult:
    """Write the four files for ``window.month``; hazards as they stand now, those created by the end of
    its last day; ``out_dir`` exists. ``progress(step, done, total)`` follows each stage."""
    day_end = datetime.combine(window.month.last, time(), UTC) + timedelta(days=1)
    total = await open_data.count_hazards(session)
    hazards: list[PublicHazard] = []
    while len(hazards) < total:
        page = await open_data.hazards_page(session, limit=PAGE, offset=len(hazards))
        if not page:
            break
        hazards.extend(page)
        progress("hazards", len(hazards), total)
    hazards = [h for h in hazards if h.created_at < day_end]
    cells = await open_data.cells_page(session, window, limit=None, now=now)
    progress("cells", len(cells), len(cells))
    meta: dict[str, ExportValue] = {
        "month": window.month.label(),
        "resolution": window.resolution,
        "epsilon": round(cells[0].epsilon, 4) if cells else None,
        "generatedAt": now,
    }
    files = (
        _write(out_dir / "hazards.csv", hazards_csv(hazards)),
        _write(out_dir / "hazards.geojson", hazards_geojson(hazards, generated_at=now)),
        _write(out_dir / "cells.csv", csv_cells(cell_rows(cells), columns=CELL_COLUMNS)),
        _write(out_dir / "cells.geojson", geojson_cells(cell_rows(cells), bbox=None, metadata=meta)),
    )
    return DumpResult(len(hazards), len(cells), files)


def parse_month(text: str | None, today: date) -> Window:
    """``YYYY-MM`` of a month that is over (default: the last one); ValueError otherwise."""
    if text is None:
        return last_closed_month(today)
    month = month_window(date.fromisoformat(f"{text}-01"))
    if month.last >= today:
        raise ValueError("the month is not over")
    return month


__all__ = [
    "CELL_COLUMNS",
    "HAZARD_COLUMNS",
    "DumpResult",
    "dump",
    "hazards_csv",
    "hazards_geojson",
    "parse_month",
]
