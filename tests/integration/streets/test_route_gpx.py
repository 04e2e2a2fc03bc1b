"""GET /routes/safe.gpx: the route /routes/safe answers, as a GPX 1.1 track that parses, point for point."""

from __future__ import annotations

from typing import Any

import defusedxml.ElementTree as safe_et
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Register
from tests.integration.route_helpers import DETOUR, MAIN, crowd, position, ride
from tests.integration.street_helpers import import_streets

Client = AsyncTestClient[Litestar]
GPX = "{http://www.topografix.com/GPX/1/1}"
# Helsinki: Kamppi to Kruununhaka, about 2 km across the centre
KAMPPI, KRUUNUNHAKA = "60.1690,24.9320", "60.1720,24.9560"


def track(document: bytes) -> tuple[Any, list[list[float]]]:
    root = safe_et.fromstring(document)
    assert root.tag == f"{GPX}gpx" and root.get("version") == "1.1"
    points = root.findall(f"{GPX}trk/{GPX}trkseg/{GPX}trkpt")
    return root, [[float(p.get("lon")), float(p.get("lat"))] for p in points]


async def both(client: Client, params: dict[str, str]) -> tuple[dict[str, Any], Any]:
    route = await client.get("/routes/safe", params=params)
    assert route.status_code == 200, route.text
    gpx = await client.get("/routes/safe.gpx", params=params)
    assert gpx.status_code == 200, gpx.text
    assert gpx.headers["content-type"].startswith("application/gpx+xml")
    return route.json(), gpx


async def test_the_gpx_track_is_the_street_route(client: Client, clean_db: AsyncEngine) -> None:
    await import_streets(clean_db)
    for profile in ("child", "shortest"):
        params = {"from": KAMPPI, "to": KRUUNUNHAKA, "profile": profile}
        route, gpx = await both(client, params)
        assert route["properties"]["network"] == "streets"
        root, points = track(gpx.content)
        assert points == route["geometry"]["coordinates"]
        assert len(points) > 10
        name = root.findtext(f"{GPX}metadata/{GPX}name")
        assert name == root.findtext(f"{GPX}trk/{GPX}name") == f"SafeRoutes {profile} route"
        desc = root.findtext(f"{GPX}trk/{GPX}desc") or ""
        assert f"{route['properties']['lengthM']:.0f} m on streets" in desc and "separated" in desc
        assert f'filename="saferoutes-{profile}.gpx"' in gpx.headers["content-disposition"]


async def test_the_gpx_track_is_the_cell_route_without_streets(
    client: Client, clean_db: AsyncEngine, register: Register
) -> None:
    riders = await crowd(clean_db)
    await ride(clean_db, riders, MAIN)
    await ride(clean_db, riders, DETOUR)
    route, gpx = await both(client, {"from": position(MAIN[0]), "to": position(MAIN[-1])})
    assert route["properties"]["network"] == "cells"
    _, points = track(gpx.content)
    assert points == route["geometry"]["coordinates"] and len(points) >= 2


async def test_the_gpx_route_answers_the_same_problems(client: Client, clean_db: AsyncEngine) -> None:
    await import_streets(clean_db)
    for params, field in (
        ({"to": KRUUNUNHAKA}, "from"),
        ({"from": KAMPPI, "to": "91,24"}, "to"),
        ({"from": KAMPPI, "to": "60.5,25.5"}, "to"),
        ({"from": KAMPPI, "to": KRUUNUNHAKA, "profile": "fastest"}, "profile"),
    ):
        answer = await client.get("/routes/safe.gpx", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["errors"][0]["field"] == field
