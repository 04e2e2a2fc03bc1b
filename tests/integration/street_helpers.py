"""Street networks for tests: the Helsinki extract, or an OSM file of the demo city's street grid."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import quoteattr

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.streets import service as streets
from geo.simulator import StreetGrid
from tests.clock import session_clock

HELSINKI = Path(__file__).parents[1] / "data" / "osm" / "helsinki.osm.pbf"


def _quiet(stage: str, count: int) -> None:
    return None


async def import_streets(engine: AsyncEngine, path: Path = HELSINKI) -> streets.ImportReport:
    return await streets.import_extract(engine, path, now=session_clock(), progress=_quiet)


def grid_extract(grid: StreetGrid, path: Path) -> Path:
    """Write the demo city's grid as an .osm (XML) file: rows are residential streets named
    ``Row i``, columns ``Column j``; the middle row is a 50 km/h primary road, the middle column
    has a cycle track. OSM ids are positive, versions 1 (pyosmium reads the file like an extract)."""
    size = grid.size
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="saferoutes-tests">']
    for n, (lat, lon) in enumerate(grid.nodes, start=1):
        lines.append(f'<node id="{n}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    way = 0

    def add(refs: list[int], tags: dict[str, str]) -> None:
        nonlocal way
        way += 1
        lines.append(f'<way id="{way}" version="1">')
        lines.extend(f'<nd ref="{r}"/>' for r in refs)
        lines.extend(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append("</way>")

    for i in range(size):
        tags = {"highway": "residential", "name": f"Row {i}"}
        if i == size // 2:
            tags = {"highway": "primary", "name": f"Row {i}", "maxspeed": "50"}
        add([i * size + j + 1 for j in range(size)], tags)
    for j in range(size):
        tags = {"highway": "residential", "name": f"Column {j}"}
        if j == size // 2:
            tags |= {"cycleway": "track"}
        add([i * size + j + 1 for i in range(size)], tags)
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
