"""GET /planner/flows and GET /planner/schools/{id}/route-report, both from releases.

The test policy: threshold 9 people, noise sigma 1.4 on people (tests/integration/conftest.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from typing import Any

import h3
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core.enums import Role
from tests.integration.planner_helpers import APRIL, CELL, CROWD, MARCH, MONTH, NOISE, Seed, neighbours
from tests.integration.school_helpers import Client, staff


async def get(client: Client, path: str, **params: Any) -> Any:
    planner = await staff(client, Role.PLANNER)
    return await client.get(path, params={**MONTH, **params}, headers=planner.auth)


async def test_flows_need_many_people_and_are_linestrings_between_centres(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    east, west = neighbours()[:2]
    for i in range(CROWD):
        person = await seed.user()
        await seed.transition(person, CELL, east, traversals=3, day=MARCH)
        if i < 2:
            await seed.transition(person, CELL, west, traversals=10, day=MARCH)
    response = await get(client, "/planner/flows")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    [feature] = response.json()["features"]
    props = feature["properties"]
    assert (props["from"], props["to"]) == (CELL, east)
    assert abs(props["contributors"] - CROWD) <= NOISE
    line = feature["geometry"]
    assert line["type"] == "LineString"
    (lat0, lon0), (lat1, lon1) = h3.cell_to_latlng(CELL), h3.cell_to_latlng(east)
    assert line["coordinates"] == [[round(lon0, 6), round(lat0, 6)], [round(lon1, 6), round(lat1, 6)]]


async def test_flows_at_a_coarser_resolution_join_parents_and_drop_inner_moves(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    parent = h3.cell_to_parent(CELL, 8)
    inner = [c for c in neighbours() if h3.cell_to_parent(c, 8) == parent]
    outer = next(c for c in h3.grid_ring(CELL, 6) if h3.cell_to_parent(c, 8) != parent)
    path = h3.grid_path_cells(CELL, outer)
    crossing = next((a, b) for a, b in itertools.pairwise(path) if h3.cell_to_parent(b, 8) != parent)
    for _ in range(CROWD):
        person = await seed.user()
        if inner:
            await seed.transition(person, CELL, inner[0], traversals=2, day=MARCH)
        await seed.transition(person, *crossing, traversals=1, day=MARCH)
    fine = (await get(client, "/planner/flows", res=10)).json()["features"]
    response = await get(client, "/planner/flows", res=8, format="csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    target = h3.cell_to_parent(crossing[1], 8)
    assert [(r["from"], r["to"]) for r in rows] == [(h3.cell_to_parent(crossing[0], 8), target)]
    crossing_fine = next(f for f in fine if f["properties"]["to"] == crossing[1])["properties"]
    assert int(rows[0]["contributors"]) == crossing_fine["contributors"], "the sum of released flows"


async def test_flows_filter_by_the_source_cell_and_the_window(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    east = neighbours()[0]
    for _ in range(CROWD):
        await seed.transition(await seed.user(), CELL, east, day=MARCH)
    assert len((await get(client, "/planner/flows")).json()["features"]) == 1
    april = {"from": f"{APRIL.replace(day=1)}T00:00:00Z", "to": f"{APRIL}T00:00:00Z"}
    assert (await get(client, "/planner/flows", **april)).json()["features"] == []
    assert (await get(client, "/planner/flows", bbox="3.0,50.0,3.1,50.1")).json()["features"] == []


async def test_flows_finer_than_the_release_are_refused(client: Client, make_app: Any, clean_db: Any) -> None:
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=make_app(release_resolution=9)) as coarse:
        response = await get(coarse, "/planner/flows", res=10)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "res"


async def test_the_route_report_ranks_the_cells_around_the_school_by_danger(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    school_id, _class_id = await seed.school_with_class(CELL)
    approach = list(h3.grid_path_cells(sorted(h3.grid_ring(CELL, 3))[0], CELL))  # 4 cells: within N
    far = h3.latlng_to_cell(51.2194, 4.4025, 10)  # Antwerp: outside the catchment
    for _ in range(CROWD):
        await seed.exposure(await seed.user(), approach, day=MARCH)
        await seed.exposure(await seed.user(), [far], day=MARCH)
    await seed.hazard(approach[2], severity=3)
    response = await get(client, f"/planner/schools/{school_id}/route-report")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["school"] == "Sint-Jan" and doc["releaseWindow"] == "2026-03" and "k" not in doc
    cells = [f["properties"]["h3"] for f in doc["features"]]
    assert set(cells) == set(approach)
    assert cells[0] == approach[2], "the hazard's cell is the most dangerous"
    dangers = [f["properties"]["danger"] for f in doc["features"]]
    assert dangers == sorted(dangers, reverse=True)
    first = doc["features"][0]["properties"]
    assert first["hazards"] == 1 and abs(first["contributors"] - CROWD) <= NOISE
    assert far not in cells


async def test_route_report_csv_unknown_school_and_guards(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    school_id, _class_id = await seed.school_with_class(CELL)
    csv_answer = await get(client, f"/planner/schools/{school_id}/route-report", format="csv")
    assert csv_answer.status_code == 200 and csv_answer.text.startswith("h3,lat,lon,danger,hazards")
    missing = await get(client, f"/planner/schools/{uuid.uuid4()}/route-report")
    assert missing.status_code == 404
    admin = await staff(client, Role.ADMIN)
    teacher = await staff(client, Role.TEACHER, str(school_id))
    url = f"/planner/schools/{school_id}/route-report"
    assert (await client.get(url, headers=admin.auth, params=MONTH)).status_code == 200
    assert (await client.get(url, headers=teacher.auth)).status_code == 403
    assert (await client.get(url)).status_code == 401
