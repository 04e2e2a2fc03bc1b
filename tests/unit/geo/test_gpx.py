"""GPX parsing is safe against hostile XML and GPX export round-trips cells."""

from __future__ import annotations

from datetime import UTC, datetime

import h3
import pytest

from geo.errors import TraceError
from geo.gpx import cells_to_gpx, parse_gpx
from geo.snapping import CellVisit, cell_centre

HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n'
GPX_OPEN = b'<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'


def doc(body: bytes) -> bytes:
    return HEAD + GPX_OPEN + body + b"</gpx>"


def trkpt(lat: str, lon: str, time: str | None = "2026-01-01T10:00:00Z", extra: bytes = b"") -> bytes:
    inner = (b"<time>" + time.encode() + b"</time>" if time is not None else b"") + extra
    return b'<trkpt lat="' + lat.encode() + b'" lon="' + lon.encode() + b'">' + inner + b"</trkpt>"


def test_points_of_all_tracks_and_segments_are_read_in_order() -> None:
    body = (
        b"<trk><trkseg>"
        + trkpt("51.0", "4.4", extra=b"<hdop>2.0</hdop>")
        + trkpt("51.1", "4.5", "2026-01-01T10:00:01Z")
        + b"</trkseg><trkseg>"
        + trkpt("51.2", "4.6", "2026-01-01T10:00:02+00:00")
        + b"</trkseg></trk><trk><trkseg>"
        + trkpt("51.3", "4.7", "2026-01-01T10:00:03Z")
        + b"</trkseg></trk>"
    )
    points = parse_gpx(doc(body), max_bytes=100_000)
    assert [p.lat for p in points] == [51.0, 51.1, 51.2, 51.3]
    assert [p.lon for p in points] == [4.4, 4.5, 4.6, 4.7]
    assert points[0].t == datetime(2026, 1, 1, 10, tzinfo=UTC).timestamp()
    assert points[3].t - points[0].t == 3
    assert points[0].accuracy == 10.0
    assert points[1].accuracy is None


def test_waypoints_and_routes_are_not_taken_as_the_ride() -> None:
    body = b'<wpt lat="1" lon="1"/><rte><rtept lat="2" lon="2"/></rte><trk><trkseg>' + trkpt("51", "4")
    assert len(parse_gpx(doc(body + b"</trkseg></trk>"), max_bytes=100_000)) == 1


def test_billion_laughs_is_rejected() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<gpx><trk><name>&lol3;</name></trk></gpx>"
    )
    with pytest.raises(TraceError, match="not allowed"):
        parse_gpx(data, max_bytes=100_000)


def test_external_entity_is_rejected() -> None:
    data = b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><gpx>&xxe;</gpx>'
    with pytest.raises(TraceError, match="not allowed"):
        parse_gpx(data, max_bytes=100_000)


def test_any_dtd_is_rejected() -> None:
    with pytest.raises(TraceError, match="not allowed"):
        parse_gpx(
            b'<?xml version="1.0"?><!DOCTYPE gpx SYSTEM "http://example.org/x.dtd"><gpx/>', max_bytes=1000
        )


def test_deep_nesting_is_rejected() -> None:
    data = doc(b"<extensions>" + b"<x>" * 5000 + b"</x>" * 5000 + b"</extensions>")
    with pytest.raises(TraceError, match="nests deeper"):
        parse_gpx(data, max_bytes=1_000_000)


def test_oversized_document_is_rejected_before_parsing() -> None:
    with pytest.raises(TraceError, match="exceeds 10 bytes"):
        parse_gpx(b"<gpx>not even parsed</gpx>", max_bytes=10)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<gpx><trk>", "malformed"),
        (b"<kml/>", "not GPX"),
        (b"", "malformed"),
        (b'<?xml version="1.0" encoding="UTF-7"?><gpx/>', "encoding"),
        (b'<?xml version="1.0" encoding="UTF-32"?><gpx/>', "encoding"),
        (b'<?xml version="1.0" encoding="no-such-codec"?><gpx/>', "encoding"),
    ],
)
def test_broken_documents_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        parse_gpx(data, max_bytes=1000)


@pytest.mark.parametrize(
    ("point", "field"),
    [
        (trkpt("north", "4"), "gpx.trk[0].trkseg[0].trkpt[1].lat"),
        (trkpt("51", "nan"), "gpx.trk[0].trkseg[0].trkpt[1].lon"),
        (trkpt("51", "4", time=None), "gpx.trk[0].trkseg[0].trkpt[1].time"),
        (trkpt("51", "4", time="yesterday"), "gpx.trk[0].trkseg[0].trkpt[1].time"),
        (trkpt("51", "4", extra=b"<hdop>bad</hdop>"), "gpx.trk[0].trkseg[0].trkpt[1].hdop"),
    ],
)
def test_bad_track_point_is_named_in_the_error(point: bytes, field: str) -> None:
    data = doc(b"<trk><trkseg>" + trkpt("51", "4") + point + b"</trkseg></trk>")
    with pytest.raises(TraceError) as err:
        parse_gpx(data, max_bytes=100_000)
    assert err.value.field == field


def test_exported_gpx_parses_back_to_the_cell_centres_and_times() -> None:
    start = h3.latlng_to_cell(51.03, 4.48, 10)
    cells = list(h3.grid_ring(start, 1))[:3]
    runs = [[CellVisit(c, 60.0 * k, 4.0) for k, c in enumerate(cells)]]
    started = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    text = cells_to_gpx(runs, started_at=started)
    points = parse_gpx(text.encode(), max_bytes=100_000)
    assert [(round(p.lat, 6), round(p.lon, 6)) for p in points] == [
        (round(cell_centre(c)[0], 6), round(cell_centre(c)[1], 6)) for c in cells
    ]
    assert [p.t - started.timestamp() for p in points] == [0.0, 60.0, 120.0]


def test_exported_gpx_without_times_has_no_time_elements() -> None:
    cell = h3.latlng_to_cell(51.03, 4.48, 10)
    assert "<time>" not in cells_to_gpx([[CellVisit(cell, 0.0, 1.0)]])
