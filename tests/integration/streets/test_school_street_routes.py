"""A school's route report on streets: child-profile routes in from the catchment's edge, street by street."""

from __future__ import annotations

import math

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core.enums import Role
from domain.planner.street_routes import COMPASS
from geo.points import haversine_m
from tests.integration.school_helpers import staff
from tests.integration.street_helpers import import_streets

Client = AsyncTestClient[Litestar]
# a school in the middle of the test extract (central Helsinki, about 1 x 1.7 km): the catchment's
# 1.5 km edge lies outside it, so the report starts each route at the farthest street on its bearing
SCHOOL = {"name": "Helsingin kaupungin koulu", "lat": 60.1716, "lon": 24.9443}


async def _school(client: Client) -> tuple[str, dict[str, str]]:
    admin = await staff(client)
    made = await client.post("/schools", json=SCHOOL, headers=admin.auth)
    assert made.status_code == 201, made.text
    planner = await staff(client, Role.PLANNER)
    return made.json()["id"], planner.auth


async def test_the_report_routes_into_the_school_from_each_compass_point(
    client: Client, clean_db: AsyncEngine
) -> None:
    await import_streets(clean_db)
    school_id, auth = await _school(client)
    answer = await client.get(f"/planner/schools/{school_id}/route-report", headers=auth)
    assert answer.status_code == 200, answer.text
    routes = answer.json()["streetRoutes"]
    assert [r["from"] for r in routes] == list(COMPASS)
    routed = [r for r in routes if r["routed"]]
    assert len(routed) >= 6, routes
    for route in routed:
        assert route["profile"] == "child"
        streets = route["streets"]
        assert math.isclose(sum(s["lengthM"] for s in streets), route["lengthM"], abs_tol=1.0)
        assert sum(s["separatedM"] for s in streets) <= route["lengthM"] + 1.0
        assert math.isclose(sum(s["separatedM"] for s in streets), route["separatedM"], abs_tol=1.0)
        assert [s["lengthM"] for s in streets] == sorted((s["lengthM"] for s in streets), reverse=True)
        assert all(0 <= s["meanDanger"] <= 100 for s in streets)
        lon, lat = route["geometry"]["coordinates"][-1]
        assert haversine_m(lat, lon, SCHOOL["lat"], SCHOOL["lon"]) < 250, "the route ends at the school"
        lon0, lat0 = route["geometry"]["coordinates"][0]
        assert haversine_m(lat0, lon0, route["startLat"], route["startLon"]) < 250
        assert 300 <= route["startDistanceM"] <= 1500
        assert route["lengthM"] >= 0.8 * route["startDistanceM"], "at least about the straight line in"
    names = {s["name"] for route in routed for s in route["streets"]}
    assert len(names - {None}) >= 5, names  # named Helsinki streets (paths and footways are unnamed: null)
    assert "" not in names
    for route in routes:
        if not route["routed"]:
            assert route["reason"]


async def test_without_a_network_the_report_has_no_street_routes(
    client: Client, clean_db: AsyncEngine
) -> None:
    school_id, auth = await _school(client)
    answer = await client.get(f"/planner/schools/{school_id}/route-report", headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["streetRoutes"] is None
    csv = await client.get(
        f"/planner/schools/{school_id}/route-report", params={"format": "csv"}, headers=auth
    )
    assert csv.status_code == 200 and "streetRoutes" not in csv.text
