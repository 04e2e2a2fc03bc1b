"""Streaming encoders for planner exports: GeoJSON (RFC 7946) and CSV (RFC 4180) of cells and flows.

Every CSV the service writes (planner exports, route reports, the open-data
dump) goes through :func:`csv_chunks`, whose :func:`csv_cell` neutralises
spreadsheet formulas in one place.

Each encoder takes an iterator of rows and yields ``bytes`` chunks of about
``chunk_bytes``, so memory stays flat whatever the export size: the API can
hand the generator to a streaming response, the CLI can write it to a file.

Rows are ``(cell, properties)`` for cells and ``(src, dst, properties)`` for
flows, properties being flat scalars (GIS tools read nested properties badly).

Rules every export follows, whoever calls it:

- positions are ``[lon, lat]`` with 6 decimals (≈ 0.1 m, far below a cell);
  h3 gives ``(lat, lng)`` and the swap happens in :func:`hexagon_ring` and
  :func:`_position` only;
- a cell is a Polygon whose one ring is closed (first position == last) and
  counter-clockwise (RFC 7946 §3.1.6; h3 already walks boundaries that way);
- a ``datetime`` value is truncated to the hour, in UTC, so no export is finer
  in time than the planner's hour;
- property names that look like personal identifiers (user, ride or report
  ids, handles, nicknames) are refused: a tripwire behind the real guarantee,
  which is that the rows built by :mod:`domain.planner.rules` carry counts only.

Cells crossing the antimeridian are not split (RFC 7946 §3.1.9): bboxes that
cross it are refused by :func:`geo.cells.parse_bbox`, and SafeRoutes serves
Belgian cities.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final, TypeVar

import h3

from geo.cells import BBox
from geo.snapping import cell_centre

ExportValue = int | float | str | bool | None | datetime
CellExportRow = tuple[str, Mapping[str, ExportValue]]
FlowExportRow = tuple[str, str, Mapping[str, ExportValue]]
_Row = TypeVar("_Row")

DEFAULT_CHUNK_BYTES: Final = 64 * 1024
_FORBIDDEN_NAMES: Final = frozenset(
    {
        "user", "userid", "userids", "ride", "rideid", "rideids", "reportid", "reportids", "handle",
        "nickname", "contributorkeys", "contributorids", "reporter", "reporterid", "deviceid", "email",
    }
)  # fmt: skip
_RESERVED_CELL: Final = frozenset({"h3"})
_RESERVED_FLOW: Final = frozenset({"from", "to"})
_RESERVED_TOP: Final = frozenset({"type", "features", "bbox"})
_CSV_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def truncate_to_hour(moment: datetime) -> datetime:
    """The hour ``moment`` falls in, in UTC: the finest time any export may show."""
    if moment.tzinfo is None:
        raise ValueError("export times must be timezone-aware")
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def format_hour(moment: datetime) -> str:
    """RFC 3339 UTC text of the truncated hour, e.g. ``2026-06-01T08:00:00Z``."""
    return truncate_to_hour(moment).strftime("%Y-%m-%dT%H:00:00Z")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return format_hour(value)
    raise TypeError(f"export values must be scalars or datetimes, not {type(value).__name__}")


_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_json_default).encode


class _NameCheck:
    """Checks each distinct property name once per export (names repeat on every row)."""

    def __init__(self, reserved: frozenset[str]) -> None:
        self._reserved = reserved
        self._seen: set[str] = set()

    def __call__(self, values: Mapping[str, ExportValue]) -> None:
        for name in values:
            if name in self._seen:
                continue
            if name in self._reserved:
                raise ValueError(f"property {name!r} is set by the encoder")
            if name.lower().replace("_", "").replace("-", "") in _FORBIDDEN_NAMES:
                raise ValueError(
                    f"property {name!r} looks like a personal identifier and may not be exported"
                )
            self._seen.add(name)


def hexagon_ring(cell: str) -> list[tuple[float, float]]:
    """The cell's closed exterior ring as ``(lon, lat)`` pairs, counter-clockwise, unrounded."""
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return ring


def _polygon_json(cell: str) -> str:
    parts = [f"[{lng:.6f},{lat:.6f}]" for lat, lng in h3.cell_to_boundary(cell)]
    parts.append(parts[0])
    return '{"type":"Polygon","coordinates":[[' + ",".join(parts) + "]]}"


def _position(cell: str) -> str:
    lat, lon = cell_centre(cell)
    return f"[{lon:.6f},{lat:.6f}]"


def _properties_json(head: str, values: Mapping[str, ExportValue]) -> str:
    """``head`` (already-encoded leading members) followed by the encoded ``values``."""
    if not values:
        return "{" + head + "}"
    return "{" + head + "," + _encode(values)[1:]


def _collection_head(bbox: BBox | None, metadata: Mapping[str, ExportValue] | None) -> str:
    members = ['"type":"FeatureCollection"']
    if bbox is not None:
        box = (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat)
        members.append('"bbox":[' + ",".join(f"{v:.6f}" for v in box) + "]")
    if metadata:
        if not _RESERVED_TOP.isdisjoint(metadata):
            raise ValueError("metadata may not redefine type, features or bbox")
        _NameCheck(frozenset())(metadata)
        members.append(_encode(metadata)[1:-1])
    return "{" + ",".join(members) + ',"features":['


def _chunked(head: str, features: Iterator[str], chunk_bytes: int) -> Iterator[bytes]:
    buf = [head]
    size = len(head)
    sep = ""
    for feature in features:
        buf.append(sep + feature)
        sep = ","
        size += len(feature) + 1
        if size >= chunk_bytes:
            yield "".join(buf).encode()
            buf, size = [], 0
    buf.append("]}\n")
    yield "".join(buf).encode()


def geojson_cells(
    rows: Iterable[CellExportRow],
    *,
    bbox: BBox | None = None,
    metadata: Mapping[str, ExportValue] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[bytes]:
    """A FeatureCollection with one hexagon Polygon per row; properties ``h3`` plus the row's values.

    ``metadata`` (e.g. metric, resolution, k, the time window) becomes foreign
    members of the collection (RFC 7946 §6.1).
    """
    check = _NameCheck(_RESERVED_CELL)
    head = _collection_head(bbox, metadata)

    def features() -> Iterator[str]:
        for cell, values in rows:
            check(values)
            yield (
                '{"type":"Feature","geometry":'
                + _polygon_json(cell)
                + ',"properties":'
                + _properties_json(f'"h3":"{cell}"', values)
                + "}"
            )

    return _chunked(head, features(), chunk_bytes)


def geojson_flows(
    rows: Iterable[FlowExportRow],
    *,
    bbox: BBox | None = None,
    metadata: Mapping[str, ExportValue] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[bytes]:
    """A FeatureCollection with one LineString per flow, from the centre of ``src`` to that of ``dst``."""
    check = _NameCheck(_RESERVED_FLOW)
    head = _collection_head(bbox, metadata)

    def features() -> Iterator[str]:
        for src, dst, values in rows:
            check(values)
            yield (
                '{"type":"Feature","geometry":{"type":"LineString","coordinates":['
                + _position(src)
                + ","
                + _position(dst)
                + ']},"properties":'
                + _properties_json(f'"from":"{src}","to":"{dst}"', values)
                + "}"
            )

    return _chunked(head, features(), chunk_bytes)


_PLAIN_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def csv_cell(value: ExportValue) -> str:
    """The one place a value becomes CSV text, for every CSV the service writes.

    A cell that starts with ``= + - @``, a tab or a carriage return is
    prefixed with ``'``: a spreadsheet would run it as a formula (CSV
    injection: ``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``), and the
    quote makes it show as the text it is. A plain number (``-0.5``,
    ``1e-05``, a western longitude) is no formula and stays a number.
    """
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = format_hour(value)
    elif isinstance(value, str):
        text = value
    else:
        text = repr(value)
    if text.startswith(_CSV_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_chunks(
    header: Sequence[str],
    lines: Iterable[Sequence[ExportValue]],
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[bytes]:
    """RFC 4180 CSV (CRLF, quoted where needed) of a header and rows, every cell through `csv_cell`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header])
    for line in lines:
        writer.writerow([csv_cell(value) for value in line])
        if buf.tell() >= chunk_bytes:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def _peek(rows: Iterable[_Row]) -> tuple[_Row | None, Iterator[_Row]]:
    """The first row (to name the CSV columns) and an iterator that still yields it."""
    it = iter(rows)
    first = next(it, None)
    return first, it if first is None else itertools.chain([first], it)


def csv_cells(
    rows: Iterable[CellExportRow],
    *,
    columns: Sequence[str] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[bytes]:
    """``h3,lat,lon,<columns>`` with a header row; ``lat``/``lon`` is the cell centre.

    ``columns`` defaults to the first row's property names; a name a row lacks
    gives an empty field, and names outside ``columns`` are not written.
    """
    check = _NameCheck(_RESERVED_CELL | {"lat", "lon"})
    first, it = _peek(rows)
    names = list(columns if columns is not None else first[1] if first else [])
    check(dict.fromkeys(names))

    def lines() -> Iterator[list[ExportValue]]:
        for cell, values in it:
            lat, lon = h3.cell_to_latlng(cell)
            yield [cell, f"{lat:.6f}", f"{lon:.6f}", *(values.get(n) for n in names)]

    return csv_chunks(["h3", "lat", "lon", *names], lines(), chunk_bytes)


def csv_flows(
    rows: Iterable[FlowExportRow],
    *,
    columns: Sequence[str] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[bytes]:
    """``from,to,fromLat,fromLon,toLat,toLon,<columns>`` with a header row (centres of the two cells)."""
    check = _NameCheck(_RESERVED_FLOW | {"fromLat", "fromLon", "toLat", "toLon"})
    first, it = _peek(rows)
    names = list(columns if columns is not None else first[2] if first else [])
    check(dict.fromkeys(names))

    def lines() -> Iterator[list[ExportValue]]:
        for src, dst, values in it:
            (slat, slon), (dlat, dlon) = cell_centre(src), cell_centre(dst)
            ends = [f"{slat:.6f}", f"{slon:.6f}", f"{dlat:.6f}", f"{dlon:.6f}"]
            yield [src, dst, *ends, *(values.get(n) for n in names)]

    header = ["from", "to", "fromLat", "fromLon", "toLat", "toLon", *names]
    return csv_chunks(header, lines(), chunk_bytes)


__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "CellExportRow",
    "ExportValue",
    "FlowExportRow",
    "csv_cell",
    "csv_cells",
    "csv_chunks",
    "csv_flows",
    "format_hour",
    "geojson_cells",
    "geojson_flows",
    "hexagon_ring",
    "truncate_to_hour",
]
