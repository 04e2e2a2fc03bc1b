"""Exports as GIS tools read them: RFC 7946 GeoJSON in [lon, lat], CSV with a header, nothing personal."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import h3
import pytest

from geo.cells import BBox
from geo.export import (
    ExportValue,
    csv_cell,
    csv_cells,
    csv_flows,
    geojson_cells,
    geojson_flows,
    hexagon_ring,
    truncate_to_hour,
)

MECHELEN_LAT, MECHELEN_LON = 51.03, 4.48
MECHELEN = h3.latlng_to_cell(MECHELEN_LAT, MECHELEN_LON, 10)


def collect(chunks: Iterable[bytes]) -> str:
    return b"".join(chunks).decode()


def cells_around(res: int = 10, k: int = 6) -> list[tuple[str, dict[str, ExportValue]]]:
    centre = h3.cell_to_parent(MECHELEN, res)
    return [(c, {"danger": i / 10, "rides": i}) for i, c in enumerate(sorted(h3.grid_disk(centre, k)))]


def signed_area(ring: list[list[float]]) -> float:
    """Shoelace sum over [x=lon, y=lat]: positive for a counter-clockwise ring."""
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring)) / 2


# --- GeoJSON cells ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("res", [7, 8, 9, 10])
def test_every_cell_is_a_closed_counter_clockwise_polygon(res: int) -> None:
    doc = json.loads(collect(geojson_cells(cells_around(res))))
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == len(cells_around(res))
    for feature in doc["features"]:
        geometry = feature["geometry"]
        assert geometry["type"] == "Polygon"
        (ring,) = geometry["coordinates"]
        assert len(ring) == 7  # six vertices (no pentagons in Belgium) plus the closing one
        assert ring[0] == ring[-1]
        assert signed_area(ring) > 0


def test_positions_are_lon_then_lat_with_at_most_six_decimals() -> None:
    text = collect(geojson_cells([(MECHELEN, {})]))
    ring = json.loads(text)["features"][0]["geometry"]["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    assert sum(lons[:-1]) / 6 == pytest.approx(MECHELEN_LON, abs=2e-3)
    assert sum(lats[:-1]) / 6 == pytest.approx(MECHELEN_LAT, abs=2e-3)
    assert all(len(str(v).split(".")[1]) <= 6 for v in lons + lats)
    expected = [[round(lon, 6), round(lat, 6)] for lon, lat in hexagon_ring(MECHELEN)]
    assert ring == expected


def test_properties_carry_the_cell_and_its_values() -> None:
    text = collect(geojson_cells([(MECHELEN, {"danger": 71.5, "hazards": 2, "note": 'say "hi"', "x": None})]))
    props = json.loads(text)["features"][0]["properties"]
    assert props == {"h3": MECHELEN, "danger": 71.5, "hazards": 2, "note": 'say "hi"', "x": None}


def test_an_empty_export_is_a_valid_empty_collection() -> None:
    assert json.loads(collect(geojson_cells([]))) == {"type": "FeatureCollection", "features": []}


def test_the_collection_carries_bbox_and_hour_truncated_metadata() -> None:
    window = datetime(2026, 5, 1, 7, 59, 59, tzinfo=timezone(timedelta(hours=2)))
    chunks = geojson_cells(
        [(MECHELEN, {"seen": datetime(2026, 5, 3, 17, 42, tzinfo=UTC)})],
        bbox=BBox(4.4, 50.98, 4.56, 51.08),
        metadata={"metric": "danger", "resolution": 10, "from": window},
    )
    doc = json.loads(collect(chunks))
    assert doc["bbox"] == [4.4, 50.98, 4.56, 51.08]
    assert doc["metric"] == "danger"
    assert doc["from"] == "2026-05-01T05:00:00Z"
    assert doc["features"][0]["properties"]["seen"] == "2026-05-03T17:00:00Z"


def test_large_exports_stream_in_bounded_chunks() -> None:
    rows = cells_around(10, 30)
    chunks = list(geojson_cells(rows, chunk_bytes=16 * 1024))
    assert len(chunks) > 10
    assert max(len(c) for c in chunks) < 17 * 1024
    assert len(json.loads(collect(chunks))["features"]) == len(rows)


def test_rows_are_read_lazily() -> None:
    def rows() -> Any:
        yield MECHELEN, {}
        raise AssertionError("read past the first chunk")

    stream = geojson_cells(rows(), chunk_bytes=10)
    assert next(stream).startswith(b'{"type":"FeatureCollection"')


@pytest.mark.parametrize("name", ["userId", "user_id", "ride_id", "rideId", "nickname", "contributor_keys"])
def test_personal_identifiers_are_refused_as_property_names(name: str) -> None:
    with pytest.raises(ValueError, match="personal identifier"):
        collect(geojson_cells([(MECHELEN, {name: "x"})]))
    with pytest.raises(ValueError, match="personal identifier"):
        collect(csv_cells([(MECHELEN, {name: "x"})]))


def test_non_scalar_and_non_finite_values_are_refused() -> None:
    with pytest.raises(TypeError):
        collect(geojson_cells([(MECHELEN, {"ids": {1, 2}})]))  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="JSON"):
        collect(geojson_cells([(MECHELEN, {"danger": float("nan")})]))


def test_hours_are_utc_and_naive_times_refused() -> None:
    brussels = timezone(timedelta(hours=2))
    assert truncate_to_hour(datetime(2026, 6, 1, 8, 59, 59, 999, tzinfo=brussels)) == datetime(
        2026, 6, 1, 6, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="timezone"):
        truncate_to_hour(datetime(2026, 6, 1, 8, 30))


# --- GDAL reads it back -------------------------------------------------------------------------------------


def test_gdal_reads_every_cell_as_a_wgs84_polygon(tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    shapely = pytest.importorskip("shapely")
    rows = cells_around(9, 8)
    path = tmp_path / "heatmap.geojson"
    with path.open("wb") as out:
        for chunk in geojson_cells(rows, metadata={"metric": "danger"}):
            out.write(chunk)
    meta, _fids, geometries, fields = pyogrio.raw.read(path)
    assert meta["crs"] == "EPSG:4326"
    assert meta["geometry_type"] == "Polygon"
    assert len(geometries) == len(rows)
    shapes = shapely.from_wkb(geometries)
    assert all(s.geom_type == "Polygon" and s.is_valid for s in shapes)
    columns = dict(zip(meta["fields"], fields, strict=True))
    assert list(columns["h3"]) == [c for c, _ in rows]
    centre = shapes[0].centroid
    cell_lat, cell_lon = h3.cell_to_latlng(rows[0][0])
    assert (centre.x, centre.y) == pytest.approx((cell_lon, cell_lat), abs=1e-4)


def test_gdal_reads_flows_as_linestrings(tmp_path: Path) -> None:
    pyogrio = pytest.importorskip("pyogrio")
    path = tmp_path / "flows.geojson"
    flows = [(MECHELEN, n, {"count": 7}) for n in sorted(h3.grid_ring(MECHELEN, 1))]
    path.write_bytes(b"".join(geojson_flows(flows)))
    meta, _fids, geometries, _fields = pyogrio.raw.read(path)
    assert meta["crs"] == "EPSG:4326"
    assert meta["geometry_type"] == "LineString"
    assert len(geometries) == 6


# --- flows ------------------------------------------------------------------------------------------------


def test_a_flow_is_a_line_from_centre_to_centre_in_lon_lat() -> None:
    dst = sorted(h3.grid_ring(MECHELEN, 1))[0]
    doc = json.loads(collect(geojson_flows([(MECHELEN, dst, {"count": 12, "contributors": 6})])))
    feature = doc["features"][0]
    assert feature["geometry"]["type"] == "LineString"
    (lon0, lat0), (lon1, lat1) = feature["geometry"]["coordinates"]
    assert (lat0, lon0) == pytest.approx(h3.cell_to_latlng(MECHELEN), abs=1e-6)
    assert (lat1, lon1) == pytest.approx(h3.cell_to_latlng(dst), abs=1e-6)
    assert lon0 == pytest.approx(MECHELEN_LON, abs=2e-3)
    assert feature["properties"] == {"from": MECHELEN, "to": dst, "count": 12, "contributors": 6}


# --- CSV --------------------------------------------------------------------------------------------------


def test_csv_has_a_header_and_one_row_per_cell_with_its_centre() -> None:
    rows = cells_around(10, 2)
    table = list(csv.reader(io.StringIO(collect(csv_cells(rows)))))
    assert table[0] == ["h3", "lat", "lon", "danger", "rides"]
    assert len(table) == len(rows) + 1
    first = table[1]
    lat, lon = h3.cell_to_latlng(first[0])
    assert (float(first[1]), float(first[2])) == pytest.approx((lat, lon), abs=1e-6)
    assert 50 < float(first[1]) < 52  # lat column holds the latitude
    assert [first[3], first[4]] == ["0.0", "0"]


def test_csv_columns_can_be_fixed_and_missing_values_are_empty() -> None:
    text = collect(
        csv_cells([(MECHELEN, {"danger": 3.5, "flag": True})], columns=["danger", "hazards", "flag"])
    )
    assert text.splitlines() == [
        "h3,lat,lon,danger,hazards,flag",
        f"{MECHELEN},{h3.cell_to_latlng(MECHELEN)[0]:.6f},{h3.cell_to_latlng(MECHELEN)[1]:.6f},3.5,,true",
    ]
    assert "\r\n" in text


def test_csv_neutralises_spreadsheet_formulas_and_truncates_times() -> None:
    when = datetime(2026, 6, 1, 8, 45, tzinfo=UTC)
    text = collect(csv_cells([(MECHELEN, {"label": "=HYPERLINK(1)", "at": when})]))
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[3:] == ["'=HYPERLINK(1)", "2026-06-01T08:00:00Z"]


def test_an_empty_csv_export_still_has_a_header() -> None:
    assert collect(csv_cells([])) == "h3,lat,lon\r\n"
    assert collect(csv_cells([], columns=["danger"])) == "h3,lat,lon,danger\r\n"


def test_csv_flows_name_both_ends() -> None:
    dst = sorted(h3.grid_ring(MECHELEN, 1))[0]
    table = list(csv.reader(io.StringIO(collect(csv_flows([(MECHELEN, dst, {"count": 9})])))))
    assert table[0] == ["from", "to", "fromLat", "fromLon", "toLat", "toLon", "count"]
    assert table[1][:2] == [MECHELEN, dst]
    assert float(table[1][2]) == pytest.approx(h3.cell_to_latlng(MECHELEN)[0], abs=1e-6)
    assert table[1][-1] == "9"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+31 470", "'+31 470"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-0.1275", "-0.1275"),
        (-0.1275, "-0.1275"),
        (-3, "-3"),
        ("+2.5e-3", "+2.5e-3"),
        (float("-inf"), "'-inf"),
        ("a=b", "a=b"),
        (None, ""),
        (True, "true"),
    ],
)
def test_every_csv_cell_is_neutralised_in_one_place(value: ExportValue, written: str) -> None:
    assert csv_cell(value) == written


def test_flows_and_headers_go_through_the_same_cell_rule() -> None:
    neighbour = sorted(h3.grid_ring(MECHELEN, 1))[0]
    text = collect(csv_flows([(MECHELEN, neighbour, {"note": "=2*3"})]))
    header, row = list(csv.reader(io.StringIO(text)))
    assert header[-1] == "note" and row[-1] == "'=2*3"
