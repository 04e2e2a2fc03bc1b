"""GET /planner/heatmap: k threshold, consent now, resolution aggregation, filters, formats, no ids."""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import h3
import pyogrio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core.enums import Role
from tests.integration.planner_helpers import CELL, TODAY, Seed, sibling_cells
from tests.integration.school_helpers import Client, staff

K = 5


async def heatmap(client: Client, **params: Any) -> Any:
    planner = await staff(client, Role.PLANNER)
    return await client.get("/planner/heatmap", params=params, headers=planner.auth)


async def cells_of(client: Client, **params: Any) -> dict[str, dict[str, Any]]:
    response = await heatmap(client, **params)
    assert response.status_code == 200, response.text
    return {f["properties"]["h3"]: f["properties"] for f in response.json()["features"]}


async def crowd(seed: Seed, n: int, cells: list[str], *, rides: int = 1, **user: Any) -> list[Any]:
    people = [await seed.user(**user) for _ in range(n)]
    for person in people:
        await seed.exposure(person, cells, rides=rides)
    return people


async def test_a_cell_needs_k_contributors_however_many_rides(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    other = sibling_cells(9)[0] if sibling_cells(9)[0] != CELL else sibling_cells(9)[1]
    await crowd(seed, K - 1, [CELL], rides=50)
    await crowd(seed, K, [other], rides=1)
    cells = await cells_of(client, metric="exposure")
    assert CELL not in cells
    assert cells[other] == {"h3": other, "rides": K, "nearMisses": 0, "contributors": K}


async def test_withdrawing_research_consent_removes_the_contribution_from_the_next_export(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    people = await crowd(seed, K + 1, [CELL], rides=2)
    assert (await cells_of(client, metric="exposure"))[CELL]["contributors"] == K + 1
    await seed.consent(people[0], granted=False)
    after = (await cells_of(client, metric="exposure"))[CELL]
    assert (after["contributors"], after["rides"]) == (K, 2 * K)
    await seed.consent(people[1], granted=False)
    assert CELL not in await cells_of(client, metric="exposure")


async def test_a_childs_contribution_counts_only_with_a_guardians_consent(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    await crowd(seed, K - 1, [CELL])
    child_year = TODAY.year - 10
    await crowd(seed, 1, [CELL], research="self", birth_year=child_year)
    assert CELL not in await cells_of(client, metric="exposure")
    await crowd(seed, 1, [CELL], research="guardian", birth_year=child_year)
    assert (await cells_of(client, metric="exposure"))[CELL]["contributors"] == K


async def test_a_coarser_cell_aggregates_its_children_and_unions_their_people(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    c0, c1, c2, c3 = sibling_cells(8)[:4]
    parent = h3.cell_to_parent(CELL, 8)
    await crowd(seed, 3, [c0, c1])
    assert await cells_of(client, metric="exposure", res=8) == {}, "3 + 3 is 3 people, not 6"
    await crowd(seed, 3, [c2, c3])
    assert await cells_of(client, metric="exposure", res=10) == {}, "no child has k people"
    cells = await cells_of(client, metric="exposure", res=8)
    assert set(cells) == {parent}
    assert (cells[parent]["contributors"], cells[parent]["rides"]) == (6, 12)
    res7 = await cells_of(client, metric="exposure", res=7)
    assert set(res7) == {h3.cell_to_parent(CELL, 7)}


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"bbox": "3.0,50.0,5.0,52.0"}, "bbox", 422),
        ({"bbox": "4,51,4.1"}, "bbox", 400),
        ({"res": 6}, "res", 400),
        ({"res": 11}, "res", 400),
        ({"metric": "speed"}, "metric", 400),
        ({"format": "shp"}, "format", 400),
        ({"from": "2026-03-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}, "from", 422),
        ({"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to", 422),
        ({"from": "yesterday"}, "from", 400),
        ({"to": "2026-01-01T10:00:00"}, "to", 400),
    ],
)
async def test_bad_filters_are_refused_naming_the_parameter(
    client: Client, params: dict[str, Any], field: str, status: int
) -> None:
    """What the document states (a pattern, a range, a choice) is a 400; the rest a 422."""
    response = await heatmap(client, **params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field


async def test_time_window_keeps_the_days_inside_it(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    people = [await seed.user() for _ in range(K)]
    for person in people:
        await seed.exposure(person, [CELL], rides=1, day=TODAY - timedelta(days=30))
        await seed.exposure(person, [CELL], rides=3, day=TODAY)
    start = (TODAY - timedelta(days=1)).isoformat() + "T23:59:00Z"
    recent = await cells_of(client, metric="exposure", **{"from": start})
    assert recent[CELL]["rides"] == 3 * K, "from is truncated to its day: yesterday and today"
    old_end = (TODAY - timedelta(days=30)).isoformat() + "T06:00:00+02:00"
    old = await cells_of(client, metric="exposure", to=old_end)
    assert old[CELL]["rides"] == K


async def test_bbox_keeps_cells_whose_centre_is_inside(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    far = h3.latlng_to_cell(51.2194, 4.4025, 10)  # Antwerp
    await crowd(seed, K, [CELL, far])
    lat, lon = h3.cell_to_latlng(CELL)
    box = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    assert set(await cells_of(client, metric="exposure", bbox=box)) == {CELL}
    assert set(await cells_of(client, metric="exposure")) == {CELL, far}


async def test_danger_geojson_follows_rfc_7946_and_carries_the_inputs(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    hazard = await seed.hazard(CELL)
    people = await crowd(seed, K, [CELL], rides=4)
    await seed.near_miss(people[0], hazard)
    response = await heatmap(client)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert 'filename="saferoutes-danger-res10-' in response.headers["content-disposition"]
    doc = response.json()
    assert doc["type"] == "FeatureCollection" and doc["k"] == K and doc["metric"] == "danger"
    assert doc["generatedAt"].endswith(":00:00Z"), "no timestamp finer than an hour"
    [feature] = doc["features"]
    geometry = feature["geometry"]
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"]) == 1
    ring = geometry["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) >= 4
    lat, lon = h3.cell_to_latlng(CELL)
    assert all(abs(x - lon) < 0.01 and abs(y - lat) < 0.01 for x, y in ring), "[lon, lat] order"
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area2 > 0, "exterior ring counter-clockwise (RFC 7946 §3.1.6)"
    props = feature["properties"]
    assert props["danger"] > 0 and props["hazards"] == 1 and props["nearMisses"] == 1
    assert (props["rides"], props["contributors"]) == (4 * K, K)


async def test_the_endpoints_geojson_reads_back_in_gdal_as_wgs84_polygons(
    client: Client, clean_db: AsyncEngine, tmp_path: Path
) -> None:
    seed = Seed(clean_db)
    cells = sibling_cells(9)
    await crowd(seed, K, cells)
    response = await heatmap(client, metric="exposure")
    path = tmp_path / "heatmap.geojson"
    path.write_bytes(response.content)
    info = pyogrio.read_info(path)
    assert info["features"] == len(cells)
    assert info["geometry_type"] == "Polygon"
    assert "4326" in str(info["crs"])
    _meta, _fids, geometries, fields = pyogrio.raw.read(path)
    assert len(geometries) == len(cells)
    assert set(fields[0]) == set(cells)


async def test_csv_has_the_centre_and_the_values(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    await crowd(seed, K, [CELL], rides=2)
    response = await heatmap(client, metric="exposure", format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert ".csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    lat, lon = h3.cell_to_latlng(CELL)
    assert rows == [
        {
            "h3": CELL,
            "lat": f"{lat:.6f}",
            "lon": f"{lon:.6f}",
            "rides": str(2 * K),
            "nearMisses": "0",
            "contributors": str(K),
        }
    ]
    empty = await heatmap(client, metric="hazards", format="csv", bbox="3.0,50.0,3.1,50.1")
    assert empty.text.splitlines() == [
        "h3,lat,lon,hazards,maxSeverity,reports,confirmations,disputes,contributors"
    ]


async def test_no_user_or_ride_id_leaves_in_any_export(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    hazard = await seed.hazard(CELL)
    people = await crowd(seed, K, [CELL])
    for person in people:
        await seed.near_miss(person, hazard)
    await seed.transition(people[0], CELL, sibling_cells(9)[0])
    texts = []
    planner = await staff(client, Role.PLANNER)
    for path in ("/planner/heatmap", "/planner/flows"):
        for fmt in ("geojson", "csv"):
            for metric in ("danger", "exposure", "hazards"):
                got = await client.get(path, params={"format": fmt, "metric": metric}, headers=planner.auth)
                assert got.status_code == 200
                texts.append(got.text)
    rides = await _ride_ids(clean_db)
    for text in texts:
        for secret in [*map(str, people), *rides, str(hazard)]:
            assert secret not in text
    keys = set(json.loads(texts[0])["features"][0]["properties"])
    assert not {k for k in keys if k.lower() == "id" or k.endswith(("Id", "Ids"))}


async def _ride_ids(engine: AsyncEngine) -> list[str]:
    from tests.integration.ride_helpers import rows

    return [str(r[0]) for r in await rows(engine, "SELECT id FROM ride")]
