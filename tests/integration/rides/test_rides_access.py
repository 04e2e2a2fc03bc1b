"""Reading and deleting rides: own rides only, 404 for anyone else's, GeoJSON path in [lon, lat]."""

from __future__ import annotations

import uuid

import h3
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Register
from tests.integration.ride_helpers import Client, count, recent_start, ride_json, simulated, upload


async def test_the_list_is_own_rides_newest_first_and_paginated(client: Client, register: Register) -> None:
    anna, bert = await register(consents=("ride_tracking",)), await register(consents=("ride_tracking",))
    ids = []
    for hours in (5, 3, 1):
        ride = simulated(41, duration_s=300, start_t=recent_start(hours))
        ids.append((await upload(client, anna.auth, ride_json(ride.points))).json()["id"])
    await upload(client, bert.auth, ride_json(simulated(42, duration_s=300).points))
    first = (await client.get("/rides?limit=2", headers=anna.auth)).json()
    assert [r["id"] for r in first["items"]] == [ids[2], ids[1]]
    second = (await client.get(f"/rides?limit=2&cursor={first['nextCursor']}", headers=anna.auth)).json()
    assert [r["id"] for r in second["items"]] == [ids[0]]
    assert second["nextCursor"] is None
    assert (await client.get("/rides?cursor=garbage", headers=anna.auth)).status_code == 400


async def test_the_owner_reads_the_cell_path_as_geojson_in_lon_lat_order(
    client: Client, register: Register
) -> None:
    account = await register(consents=("ride_tracking",))
    created = (await upload(client, account.auth, ride_json(simulated(43, duration_s=600).points))).json()
    detail = await client.get(f"/rides/{created['id']}", headers=account.auth)
    assert detail.status_code == 200
    body = detail.json()
    assert body["cellCount"] == created["cellCount"]
    feature = body["path"]
    geometry = feature["geometry"]
    assert feature["type"] == "Feature"
    # one line per connected segment (a long GPS gap can split a ride)
    lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
    assert geometry["type"] in {"LineString", "MultiLineString"}
    assert len(lines) == body["segmentCount"] == len(feature["properties"]["cells"])
    cells = feature["properties"]["cells"][0]
    lon, lat = lines[0][0]
    assert 4 < lon < 5 and 50 < lat < 52  # Mechelen: lon ~4.48, lat ~51.03
    assert h3.latlng_to_cell(lat, lon, 10) == cells[0]


async def test_anyone_else_gets_404_never_403(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    owner, other = await register(consents=("ride_tracking",)), await register(consents=("ride_tracking",))
    ride_id = (await upload(client, owner.auth, ride_json(simulated(44).points))).json()["id"]
    for method in ("GET", "DELETE"):
        theirs = await client.request(method, f"/rides/{ride_id}", headers=other.auth)
        missing = await client.request(method, f"/rides/{uuid.uuid4()}", headers=other.auth)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["type"] == missing.json()["type"]
    assert (await client.get(f"/rides/{ride_id}")).status_code == 401
    assert await count(db_engine, "ride") == 1
    assert (await client.delete(f"/rides/{ride_id}", headers=owner.auth)).status_code == 204
    assert (await client.get(f"/rides/{ride_id}", headers=owner.auth)).status_code == 404
    assert await count(db_engine, "ride_cell") == 0
