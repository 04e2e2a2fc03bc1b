"""GPX 1.1 in (uploads) and out (exports), safely.

Parsing untrusted XML is a classic attack surface: entity expansion
("billion laughs"), external entities reading local files, and deep nesting
exhausting memory. So: the size is checked before parsing, ``defusedxml``
refuses any DTD, entity or external reference, and parsing is incremental
with a depth limit. Errors are :class:`~geo.errors.TraceError` naming the
GPX location (``gpx.trk[0].trkseg[1].trkpt[3].time``), never the coordinates.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError, SubElement, tostring

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from geo.errors import TraceError
from geo.points import TracePoint
from geo.snapping import CellVisit, cell_centre

GPX_NS = "http://www.topografix.com/GPX/1/1"
HDOP_TO_METRES = 5.0
"""A phone's accuracy radius is roughly HDOP times the ~5 m user range error."""
DEFAULT_MAX_DEPTH = 16
"""GPX nests trackpoint data 5 levels deep; extensions add a few more."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_time(text: str | None, where: str) -> float:
    if not text or not text.strip():
        raise TraceError(where, "every track point needs a time")
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TraceError(where, "not an ISO 8601 / RFC 3339 time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # GPX 1.1 times are UTC by definition
    return when.timestamp()


def _parse_float(text: str | None, where: str) -> float:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        raise TraceError(where, "not a number") from None
    if not math.isfinite(value):
        raise TraceError(where, "must be a finite number")
    return value


def parse_gpx(data: bytes, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> list[TracePoint]:
    """Read the track points of all tracks and segments, in document order.

    ``accuracy`` is ``hdop * 5`` m when ``<hdop>`` is present, else ``None``.
    Waypoints and routes are ignored: they are not a recording of a ride.
    """
    if len(data) > max_bytes:
        raise TraceError("gpx", f"the GPX document exceeds {max_bytes} bytes")
    points: list[TracePoint] = []
    depth = 0
    trk = seg = pt = -1
    where = "gpx"
    try:
        events = safe_et.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        for event, elem in events:
            name = _local(elem.tag)
            if event == "start":
                depth += 1
                if depth > max_depth:
                    raise TraceError("gpx", f"the GPX document nests deeper than {max_depth} levels")
                if depth == 1 and name != "gpx":
                    raise TraceError("gpx", "the document is not GPX (root element must be <gpx>)")
                if name == "trk" and depth == 2:
                    trk, seg = trk + 1, -1
                elif name == "trkseg" and depth == 3:
                    seg, pt = seg + 1, -1
                elif name == "trkpt" and depth == 4:
                    pt += 1
                    where = f"gpx.trk[{trk}].trkseg[{seg}].trkpt[{pt}]"
                continue
            depth -= 1
            if name == "trkpt" and depth == 3:
                lat = _parse_float(elem.get("lat"), f"{where}.lat")
                lon = _parse_float(elem.get("lon"), f"{where}.lon")
                t = math.nan
                accuracy: float | None = None
                for child in elem:
                    child_name = _local(child.tag)
                    if child_name == "time":
                        t = _parse_time(child.text, f"{where}.time")
                    elif child_name == "hdop":
                        accuracy = _parse_float(child.text, f"{where}.hdop") * HDOP_TO_METRES
                if math.isnan(t):
                    raise TraceError(f"{where}.time", "every track point needs a time")
                points.append(TracePoint(lat, lon, t, accuracy))
                elem.clear()
    except DefusedXmlException:
        raise TraceError("gpx", "DTDs, entities and external references are not allowed in GPX") from None
    except ParseError as exc:
        raise TraceError("gpx", f"malformed XML at line {exc.position[0]}") from None
    except (LookupError, ValueError) as exc:
        if isinstance(exc, TraceError):
            raise
        # the parser cannot read the declared encoding (UTF-7, UTF-32, a made-up name)
        raise TraceError("gpx", "the declared encoding cannot be read; send GPX as UTF-8") from None
    return points


def _track(segments: Sequence[Sequence[CellVisit]], *, started_at: datetime | None, name: str) -> Element:
    trk = Element("trk")
    SubElement(trk, "name").text = name
    base = started_at.timestamp() if started_at is not None else None
    for run in segments:
        seg = SubElement(trk, "trkseg")
        for visit in run:
            lat, lon = cell_centre(visit.cell)
            pt = SubElement(seg, "trkpt", {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"})
            if base is not None:
                when = datetime.fromtimestamp(base + visit.offset_s, tz=UTC)
                SubElement(pt, "time").text = when.isoformat().replace("+00:00", "Z")
    return trk


def cells_to_gpx(
    segments: Sequence[Sequence[CellVisit]],
    *,
    started_at: datetime | None = None,
    name: str = "SafeRoutes ride",
) -> str:
    """A GPX 1.1 document with one track through the cell centres, one segment per cell path.

    Times (``started_at`` plus each visit's offset) are included when
    ``started_at`` is given. The export carries cells only, never the original fixes.
    """
    return "".join(gpx_tracks([(name, started_at, segments)]))


GPX_HEADER = (
    f'<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="SafeRoutes" xmlns="{GPX_NS}">'
)
GPX_FOOTER = "</gpx>\n"


def gpx_track(name: str, started_at: datetime | None, segments: Sequence[Sequence[CellVisit]]) -> str:
    """One ``<trk>`` element, to place between `GPX_HEADER` and `GPX_FOOTER`."""
    return tostring(_track(segments, started_at=started_at, name=name), encoding="unicode")


def gpx_tracks(
    tracks: Iterable[tuple[str, datetime | None, Sequence[Sequence[CellVisit]]]],
) -> Iterator[str]:
    """One GPX 1.1 document with a track per ride, yielded piece by piece so that
    a user with thousands of rides is exported without holding them all."""
    yield GPX_HEADER
    for name, started_at, segments in tracks:
        yield gpx_track(name, started_at, segments)
    yield GPX_FOOTER


def route_to_gpx(coordinates: Sequence[Sequence[float]], *, name: str, desc: str) -> str:
    """A GPX 1.1 document with one track along a route's GeoJSON coordinates (``[lon, lat]`` in,
    ``lat``/``lon`` attributes out), with the route's name and description in the metadata and
    the track. Coordinates are written with 7 decimals, as routes are rounded: the points read
    back equal the route's."""
    root = Element("gpx", {"version": "1.1", "creator": "SafeRoutes", "xmlns": GPX_NS})
    metadata = SubElement(root, "metadata")
    SubElement(metadata, "name").text = name
    SubElement(metadata, "desc").text = desc
    trk = SubElement(root, "trk")
    SubElement(trk, "name").text = name
    SubElement(trk, "desc").text = desc
    SubElement(trk, "type").text = "cycling"
    seg = SubElement(trk, "trkseg")
    for lon, lat, *_ in coordinates:
        SubElement(seg, "trkpt", {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"})
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode") + "\n"
