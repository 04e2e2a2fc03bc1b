"""Reading an .osm.pbf extract with pyosmium into segment rows, in two passes and bounded memory.

Pass 1 reads the ways only and counts how often each node is used by a way
:func:`rules.classify` keeps (a way's two ends count twice): a node used twice
or more is a junction. The counts live in one numpy array of node ids (8 bytes
per way node), not in a dict. Pass 2 reads the file again with node locations
(libosmium's ``flex_mem`` index) and cuts every kept way at its junctions.
Segments are written as CSV rows for PostgreSQL's COPY to a file the caller
gives, so the segments never sit in memory all at once.

Nodes an extract lacks (ways cut at the extract's border) end a segment: the
part of the way with locations is kept, the rest is skipped.
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import osmium
import osmium.filter

from domain.streets.rules import UnreadableExtract, WayRules, classify
from geo.points import haversine_m

PROGRESS_EVERY = 50_000
"""Ways between two progress calls."""

Progress = Callable[[str, int], None]

COLUMNS: tuple[str, ...] = (
    "network_id", "id", "way_id", "from_node", "to_node", "lons", "lats", "length_m", "name", "highway",
    "bicycle_forward", "bicycle_backward", "foot", "infrastructure", "maxspeed_kmh", "maxspeed_tagged",
    "surface", "lit",
)  # fmt: skip


@dataclass(slots=True)
class ReadCounts:
    ways_read: int = 0
    ways_kept: int = 0
    segments: int = 0
    length_m: float = 0.0
    missing_nodes: int = 0


def _ways(path: Path, *, locations: bool) -> Any:
    """Ways with a ``highway`` tag; with ``locations``, nodes are read for the index but not passed on
    (libosmium's location handler runs before the filters)."""
    if not locations:
        processor = osmium.FileProcessor(str(path), osmium.osm.WAY)
        return processor.with_filter(osmium.filter.KeyFilter("highway"))
    processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    processor = processor.with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    return processor.with_filter(osmium.filter.KeyFilter("highway"))


def _open_check(path: Path) -> None:
    if not path.is_file():
        raise UnreadableExtract(f"{path}: no such file")
    try:
        with osmium.io.Reader(str(path), osmium.osm.NOTHING) as reader:
            reader.header()
    except RuntimeError as exc:
        raise UnreadableExtract(f"{path}: not an OSM extract pyosmium can read ({exc})") from exc


def junctions(path: Path, progress: Progress) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Pass 1: the sorted ids of nodes where a kept way ends or meets another (or itself)."""
    refs = array("q")
    seen = 0
    try:
        for way in _ways(path, locations=False):
            seen += 1
            if seen % PROGRESS_EVERY == 0:
                progress("junctions", seen)
            if classify(dict(way.tags)) is None:
                continue
            nodes = [n.ref for n in way.nodes]
            if len(nodes) >= 2:
                refs.extend(nodes)
                refs.append(nodes[0])
                refs.append(nodes[-1])
    except RuntimeError as exc:
        raise UnreadableExtract(f"{path}: reading failed ({exc})") from exc
    progress("junctions", seen)
    ids, counts = np.unique(np.frombuffer(refs, dtype=np.int64), return_counts=True)
    return ids[counts >= 2]


def _length_m(lons: list[float], lats: list[float]) -> float:
    return sum(haversine_m(lats[i - 1], lons[i - 1], lats[i], lons[i]) for i in range(1, len(lons)))


def _array(values: list[float]) -> str:
    return "{" + ",".join(f"{v:.7f}" for v in values) + "}"


def _bool(value: bool | None) -> str:
    return "" if value is None else ("t" if value else "f")


def write_segments(
    path: Path, out: IO[str], network_id: int, junction_ids: np.ndarray[Any, Any], progress: Progress
) -> ReadCounts:
    """Pass 2: cut every kept way at its junctions and write one CSV row per segment to ``out``."""
    writer = csv.writer(out)
    counts = ReadCounts()
    is_junction = set(junction_ids.tolist()) if junction_ids.size < 2_000_000 else None

    def junction(ref: int) -> bool:
        if is_junction is not None:
            return ref in is_junction
        i = int(np.searchsorted(junction_ids, ref))
        return i < junction_ids.size and int(junction_ids[i]) == ref

    def emit(way_id: int, rules: WayRules, refs: list[int], lons: list[float], lats: list[float]) -> None:
        length = _length_m(lons, lats)
        counts.segments += 1
        counts.length_m += length
        writer.writerow(
            (
                network_id, counts.segments, way_id, refs[0], refs[-1], _array(lons), _array(lats),
                f"{length:.2f}", rules.name or "", rules.highway, _bool(rules.bicycle_forward),
                _bool(rules.bicycle_backward), _bool(rules.foot), rules.infrastructure.value,
                "" if rules.maxspeed_kmh is None else rules.maxspeed_kmh, _bool(rules.maxspeed_tagged),
                rules.surface or "", _bool(rules.lit),
            )
        )  # fmt: skip

    try:
        for way in _ways(path, locations=True):
            counts.ways_read += 1
            if counts.ways_read % PROGRESS_EVERY == 0:
                progress("segments", counts.ways_read)
            rules = classify(dict(way.tags))
            if rules is None:
                continue
            counts.ways_kept += 1
            refs: list[int] = []
            lons: list[float] = []
            lats: list[float] = []
            for node in way.nodes:
                if not node.location.valid():
                    counts.missing_nodes += 1
                    if len(refs) >= 2:
                        emit(way.id, rules, refs, lons, lats)
                    refs, lons, lats = [], [], []
                    continue
                refs.append(node.ref)
                lons.append(node.location.lon)
                lats.append(node.location.lat)
                if len(refs) >= 2 and junction(node.ref):
                    emit(way.id, rules, refs, lons, lats)
                    refs, lons, lats = [refs[-1]], [lons[-1]], [lats[-1]]
            if len(refs) >= 2:
                emit(way.id, rules, refs, lons, lats)
    except RuntimeError as exc:
        raise UnreadableExtract(f"{path}: reading failed ({exc})") from exc
    progress("segments", counts.ways_read)
    return counts


def read_extract(path: Path, out: IO[str], network_id: int, progress: Progress) -> ReadCounts:
    """Both passes: the segment rows of the extract at ``path`` written to ``out`` as CSV."""
    _open_check(path)
    return write_segments(path, out, network_id, junctions(path, progress), progress)
