"""GET /planner/flows and GET /planner/schools/{id}/route-report."""

from __future__ import annotations

import csv
import io
import itertools
import uuid
from typing import Any

import h3
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core.enums import Role
from tests.integration.planner_helpers import CELL, TODAY, Seed, neighbours
from tests.integration.school_helpers import Client, staff

K = 5


async def get(client: Client, path: str, **params: Any) -> Any:
    planner = await staff(client, Role.PLANNER)
    return await client.get(path, params=params, headers=planner.auth)


async def test_flows_need_k_people_and_are_linestrings_between_centres(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    east, west = neighbours()[:2]
    for i in range(K):
        person = await seed.user()
        await seed.transition(person, CELL, east, traversals=3)
        if i < K - 1:
            await seed.transition(person, CELL, west, traversals=10)
    response = await get(client, "/planner/flows")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    [feature] = response.json()["features"]
    assert feature["properties"] == {"from": CELL, "to": east, "count": 3 * K, "contributors": K}
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
    for _ in range(K):
        person = await seed.user()
        if inner:
            await seed.transition(person, CELL, inner[0], traversals=2)
        await seed.transition(person, *crossing, traversals=1)
    response = await get(client, "/planner/flows", res=8, format="csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    target = h3.cell_to_parent(crossing[1], 8)
    assert [(r["from"], r["to"], r["count"], r["contributors"]) for r in rows] == [
        (h3.cell_to_parent(crossing[0], 8), target, str(K), str(K))
    ]


async def test_flows_filter_by_the_source_cell_and_the_window(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    east = neighbours()[0]
    for _ in range(K):
        await seed.transition(await seed.user(), CELL, east, day=TODAY.replace(year=TODAY.year - 1))
    assert len((await get(client, "/planner/flows")).json()["features"]) == 1
    window = {"from": f"{TODAY.isoformat()}T00:00:00Z"}
    assert (await get(client, "/planner/flows", **window)).json()["features"] == []
    assert (await get(client, "/planner/flows", bbox="3.0,50.0,3.1,50.1")).json()["features"] == []


async def _school_setup(seed: Seed) -> tuple[uuid.UUID, uuid.UUID, list[str], list[str]]:
    """A school at CELL, its class, and two routes from opposite sides, each ending 2 rings from it."""
    school_id, class_id = await seed.school_with_class(CELL)
    ring2, ring15 = sorted(h3.grid_ring(CELL, 2)), sorted(h3.grid_ring(CELL, 15))
    route = h3.grid_path_cells(ring15[0], ring2[0])
    other = h3.grid_path_cells(ring15[-1], ring2[-1])
    return school_id, class_id, list(route), [c for c in other if c not in route]


async def test_route_report_lists_k_anonymous_cells_on_the_way_to_school_most_dangerous_first(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    school_id, class_id, route, side = await _school_setup(seed)
    child_year = TODAY.year - 10
    for i in range(K):
        child = await seed.user(research="guardian", birth_year=child_year)
        await seed.member(class_id, child)
        await seed.ride_path(child, route)
        if i < K - 1:
            await seed.ride_path(child, side)  # only k-1 children come this way: it stays hidden
        await seed.exposure(child, route)
    self_only = await seed.user(research="self", birth_year=child_year)  # no guardian: does not count
    await seed.member(class_id, self_only)
    await seed.ride_path(self_only, side)
    not_home = await seed.user()
    await seed.member(class_id, not_home)
    await seed.ride_path(not_home, [route[-1], *reversed(route[:-1])])  # away from the school
    await seed.hazard(route[5], severity=3)
    response = await get(client, f"/planner/schools/{school_id}/route-report")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["school"] == "Sint-Jan" and doc["k"] == K
    cells = [f["properties"]["h3"] for f in doc["features"]]
    assert set(cells) == set(route)
    assert cells[0] == route[5], "the hazard's cell is the most dangerous"
    dangers = [f["properties"]["danger"] for f in doc["features"]]
    assert dangers == sorted(dangers, reverse=True)
    props = doc["features"][0]["properties"]
    assert (props["routeRides"], props["routeChildren"], props["hazards"]) == (K, K, 1)
    assert not set(side) & set(cells)


async def test_route_report_csv_unknown_school_and_guards(client: Client, clean_db: AsyncEngine) -> None:
    seed = Seed(clean_db)
    school_id, _class_id, _route, _side = await _school_setup(seed)
    csv_answer = await get(client, f"/planner/schools/{school_id}/route-report", format="csv")
    assert csv_answer.status_code == 200 and csv_answer.text.startswith("h3,lat,lon,danger,routeRides")
    missing = await get(client, f"/planner/schools/{uuid.uuid4()}/route-report")
    assert missing.status_code == 404
    admin = await staff(client, Role.ADMIN)
    teacher = await staff(client, Role.TEACHER, str(school_id))
    url = f"/planner/schools/{school_id}/route-report"
    assert (await client.get(url, headers=admin.auth)).status_code == 200
    assert (await client.get(url, headers=teacher.auth)).status_code == 403
    assert (await client.get(url)).status_code == 401
