"""GET /planner/heatmap: figures of people from a differentially private release, its window and
resolutions, consent at release time, filters, formats, and no ids.

The test policy (tests/integration/conftest.py) releases at res 10 with epsilon 10, 4 cells and
4 passes per person: the threshold is 9 people and the noise on a count of people has sigma 1.4.
A cell 20 people rode is shown (its noisy count would have to fall 11 below); one 1 to 3 people
rode is hidden (the noise would have to add 6 or more: about one chance in 100 000 per cell).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

import h3
import pyogrio
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core.enums import Role
from tests.integration.planner_helpers import (
    APRIL,
    APRIL_MONTH,
    CELL,
    CROWD,
    MARCH,
    MONTH,
    NOISE,
    Seed,
    sibling_cells,
)
from tests.integration.school_helpers import Client, staff


async def heatmap(client: Client, **params: Any) -> Any:
    planner = await staff(client, Role.PLANNER)
    return await client.get("/planner/heatmap", params=params, headers=planner.auth)


async def cells_of(client: Client, **params: Any) -> dict[str, dict[str, Any]]:
    response = await heatmap(client, **{**MONTH, **params})
    assert response.status_code == 200, response.text
    return {f["properties"]["h3"]: f["properties"] for f in response.json()["features"]}


async def crowd(
    seed: Seed, n: int, cells: list[str], *, rides: int = 1, day: Any = MARCH, **user: Any
) -> list[Any]:
    people = [await seed.user(**user) for _ in range(n)]
    for person in people:
        await seed.exposure(person, cells, rides=rides, day=day)
    return people


def near(value: Any, exact: int) -> bool:
    return abs(value - exact) <= NOISE


async def test_a_cell_few_people_rode_is_hidden_however_many_rides(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    other = next(c for c in sibling_cells(9) if c != CELL)
    await crowd(seed, 2, [CELL], rides=50)
    await crowd(seed, CROWD, [other], rides=1)
    cells = await cells_of(client, metric="exposure")
    assert CELL not in cells
    assert set(cells[other]) == {"h3", "rides", "nearMisses", "contributors"}
    assert near(cells[other]["contributors"], CROWD)


async def test_a_release_is_served_again_and_a_withdrawal_shows_in_the_next_one(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    people = await crowd(seed, CROWD, [CELL], rides=2)
    for person in people:
        await seed.exposure(person, [CELL], rides=2, day=APRIL)
    march = await cells_of(client, metric="exposure")
    for person in people[: CROWD - 2]:
        await seed.consent(person, granted=False)
    assert await cells_of(client, metric="exposure") == march, "the same release, the same noise"
    assert CELL not in await cells_of(client, metric="exposure", **APRIL_MONTH), "released after"


async def test_a_childs_contribution_counts_only_with_a_guardians_consent(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    child_year = MARCH.year - 10
    await crowd(seed, CROWD, [CELL], research="self", birth_year=child_year)
    assert CELL not in await cells_of(client, metric="exposure")
    await crowd(seed, CROWD, [CELL], research="guardian", birth_year=child_year, day=APRIL)
    assert near((await cells_of(client, metric="exposure", **APRIL_MONTH))[CELL]["contributors"], CROWD)


async def test_a_coarser_cell_is_the_sum_of_its_released_children(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    children = sibling_cells(9)[:3]
    for child in children:
        await crowd(seed, CROWD, [child])
    await crowd(seed, 2, [sibling_cells(9)[3]])  # hidden at res 10: must not reappear at res 9
    fine = await cells_of(client, metric="exposure", res=10)
    coarse = await cells_of(client, metric="exposure", res=9)
    parent = h3.cell_to_parent(CELL, 9)
    assert set(fine) == set(children) and set(coarse) == {parent}
    for figure in ("contributors", "rides"):
        assert coarse[parent][figure] == sum(fine[c][figure] for c in children), "subtracting reveals nothing"


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
        ({"from": "yesterday", "to": "2026-01-01T00:00:00Z"}, "from", 400),
        ({"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T10:00:00"}, "to", 400),
        ({"from": "2026-01-01T00:00:00Z"}, "to", 422),
        ({"from": "2026-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}, "to", 422),
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


async def test_a_window_releases_the_days_inside_it(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    await crowd(seed, CROWD, [CELL], day=MARCH)
    window = {"from": "2026-03-10T23:00:00+02:00", "to": "2026-03-20T00:00:00Z"}  # 10 March (UTC) on
    assert CELL in await cells_of(client, metric="exposure", **window)
    before = {"from": "2026-02-01T00:00:00Z", "to": "2026-03-14T00:00:00Z"}
    assert CELL not in await cells_of(client, metric="exposure", **before)


async def test_bbox_keeps_cells_whose_centre_is_inside(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    far = h3.latlng_to_cell(51.2194, 4.4025, 10)  # Antwerp
    await crowd(seed, CROWD, [CELL, far])
    lat, lon = h3.cell_to_latlng(CELL)
    box = f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}"
    assert set(await cells_of(client, metric="exposure", bbox=box)) == {CELL}
    assert set(await cells_of(client, metric="exposure")) == {CELL, far}


async def test_danger_geojson_follows_rfc_7946_and_names_its_release(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    await seed.hazard(CELL)
    await crowd(seed, CROWD, [CELL], rides=4)
    response = await heatmap(client, **MONTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    assert 'filename="saferoutes-danger-res10-' in response.headers["content-disposition"]
    doc = response.json()
    assert doc["type"] == "FeatureCollection" and doc["metric"] == "danger" and "k" not in doc
    assert doc["releaseWindow"] == "2026-03" and doc["releaseResolution"] == 10
    assert 0 < doc["epsilon"] <= 10 and doc["delta"] == pytest.approx(1e-6) and doc["threshold"] == 9
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
    assert props["danger"] > 0 and props["hazards"] == 1
    assert near(props["contributors"], CROWD)


async def test_the_endpoints_geojson_reads_back_in_gdal_as_wgs84_polygons(
    client: Client, clean_db: AsyncEngine, tmp_path: Path
) -> None:
    seed = Seed(clean_db)
    cells = sibling_cells(9)
    await crowd(seed, CROWD, cells[:4])
    await crowd(seed, CROWD, cells[4:])
    response = await heatmap(client, metric="exposure", **MONTH)
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
    await crowd(seed, CROWD, [CELL], rides=2)
    response = await heatmap(client, metric="exposure", format="csv", **MONTH)
    assert response.headers["content-type"].startswith("text/csv")
    assert ".csv" in response.headers["content-disposition"]
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    lat, lon = h3.cell_to_latlng(CELL)
    assert (row["h3"], row["lat"], row["lon"], row["nearMisses"]) == (CELL, f"{lat:.6f}", f"{lon:.6f}", "0")
    assert near(int(row["contributors"]), CROWD)
    empty = await heatmap(client, metric="hazards", format="csv", bbox="3.0,50.0,3.1,50.1", **MONTH)
    assert empty.text.splitlines() == ["h3,lat,lon,hazards,maxSeverity,reports,confirmations,disputes"]


async def test_no_user_or_ride_id_leaves_in_any_export(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    hazard = await seed.hazard(CELL)
    people = await crowd(seed, CROWD, [CELL])
    for person in people:
        await seed.near_miss(person, hazard)
        await seed.transition(person, CELL, sibling_cells(9)[0], day=MARCH)
    texts = []
    planner = await staff(client, Role.PLANNER)
    for path in ("/planner/heatmap", "/planner/flows"):
        for fmt in ("geojson", "csv"):
            for metric in ("danger", "exposure", "hazards"):
                params = {"format": fmt, "metric": metric, **MONTH}
                got = await client.get(path, params=params, headers=planner.auth)
                assert got.status_code == 200, got.text
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
