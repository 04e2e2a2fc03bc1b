"""Minimisation: no raw coordinate at rest, trimmed ends, privacy zones (and their endpoints)."""

from __future__ import annotations

import uuid

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.rides.service import ride_key
from geo.points import haversine_m
from privacy.trimming.rules import ride_trim_radius_m
from tests.integration.conftest import Register
from tests.integration.ride_helpers import Client, key, ride_gpx, ride_json, rows, simulated, upload


async def _all_text(engine: AsyncEngine) -> str:
    """Every column of every row of every table, as text."""
    async with engine.connect() as conn:
        names = (
            await conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        dumps = []
        for name in list(names):
            result = await conn.execute(sa.text(f'SELECT t::text FROM "{name}" t'))
            dumps.extend(result.scalars())
    return "\n".join(dumps)


def _forms(value: float) -> set[str]:
    """The coordinate at full precision and rounded to 4-7 decimals (what a leak would look like)."""
    return {repr(value), *(f"{value:.{d}f}" for d in range(4, 8))}


def _stands_in(form: str, text: str) -> bool:
    """Whether `form` occurs in `text` as a number of its own, not inside a longer one.

    Inside one it is no leak, and it happens by chance: a timestamp whose seconds
    read 04.4836... holds "4.4836", a longitude of the simulated rides to 4 decimals.
    """
    start = text.find(form)
    while start != -1:
        end = start + len(form)
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if not (before.isdigit() or before == ".") and not after.isdigit():
            return True
        start = text.find(form, start + 1)
    return False


async def test_no_uploaded_coordinate_is_stored_anywhere(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking", "hazard_reporting"))
    points = simulated(21, duration_s=900).points
    incident = {
        "t": points[450].t,
        "lat": 51.0123456,
        "lon": 4.4654321,
        "category": "close_pass",
        "severity": 2,
    }
    json_ride = await upload(client, account.auth, ride_json(points[:600], [incident]))
    gpx = ride_gpx([points[600:]])
    headers = {**account.auth, **key(), "Content-Type": "application/gpx+xml"}
    gpx_ride = await client.post("/rides", content=gpx, headers=headers)
    assert json_ride.status_code == gpx_ride.status_code == 201
    assert json_ride.json()["incidentsFiled"] == 1
    stored = await _all_text(db_engine)
    assert "idempotency_record" not in stored  # sanity: the dump is of rows, not of names
    leaks = [
        form for p in points for value in (p.lat, p.lon) for form in _forms(value) if _stands_in(form, stored)
    ]
    assert leaks == []


def test_a_coordinate_is_found_only_as_a_number_of_its_own() -> None:
    assert _stands_in("4.4836", '{"lon": 4.4836}')
    assert _stands_in("4.4836", "(1,4.4836)")
    assert _stands_in("51.0123", "lat -51.0123")
    assert not _stands_in("4.4836", "2026-11-25 17:21:04.483612+00")  # a timestamp's seconds
    assert not _stands_in("4.4836", "14.4836")
    assert not _stands_in("4.4836", "4.48361")


async def test_no_stored_cell_lies_within_the_trimmed_radius_of_the_true_ends(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    for seed in (22, 23, 24):
        ride = simulated(seed, duration_s=900, mode="bike")
        response = await upload(client, account.auth, ride_json(ride.points))
        assert response.status_code == 201
        [(seed_bytes,)] = await rows(
            db_engine, "SELECT privacy_seed FROM app_user WHERE id = :id", id=uuid.UUID(account.id)
        )
        radius = ride_trim_radius_m(seed_bytes, ride_key(ride.points))
        assert 150 <= radius < 250
        cells = await rows(
            db_engine, "SELECT cell FROM ride_cell WHERE ride_id = :id", id=uuid.UUID(response.json()["id"])
        )
        assert cells
        ends = [(ride.true_lat[0], ride.true_lon[0]), (ride.true_lat[-1], ride.true_lon[-1])]
        for (cell,) in cells:
            boundary = h3.cell_to_boundary(h3.int_to_str(cell))
            for lat, lon in ends:
                # some part of every kept cell lies beyond the radius
                assert max(haversine_m(lat, lon, b_lat, b_lon) for b_lat, b_lon in boundary) > radius
                assert h3.int_to_str(cell) != h3.latlng_to_cell(lat, lon, 10)


async def test_privacy_zones_can_be_listed_added_and_deleted(client: Client, register: Register) -> None:
    account = await register()
    created = await client.post(
        "/me/privacy-zones", json={"lat": 51.03, "lon": 4.48, "radiusM": 300}, headers=account.auth
    )
    assert created.status_code == 201, created.text
    zone = created.json()
    assert (zone["lat"], zone["lon"], zone["radiusM"]) == (51.03, 4.48, 300)
    listed = await client.get("/me/privacy-zones", headers=account.auth)
    assert [z["id"] for z in listed.json()] == [zone["id"]]
    other = await register()
    assert (await client.get("/me/privacy-zones", headers=other.auth)).json() == []
    assert (await client.delete(f"/me/privacy-zones/{zone['id']}", headers=other.auth)).status_code == 404
    assert (await client.delete(f"/me/privacy-zones/{zone['id']}", headers=account.auth)).status_code == 204
    assert (await client.get("/me/privacy-zones", headers=account.auth)).json() == []


async def test_invalid_zones_are_refused_naming_the_field_and_the_count_is_capped(
    client: Client, register: Register
) -> None:
    account = await register()
    bad = await client.post(
        "/me/privacy-zones", json={"lat": 51, "lon": 4.4, "radiusM": 10}, headers=account.auth
    )
    assert bad.status_code == 400, "the radius range is in the OpenAPI document"
    assert bad.json()["errors"][0]["field"] == "radiusM"
    bad = await client.post(
        "/me/privacy-zones", json={"lat": 95, "lon": 4.4, "radiusM": 100}, headers=account.auth
    )
    assert bad.json()["errors"][0]["field"] == "lat"
    for i in range(10):
        ok = await client.post(
            "/me/privacy-zones", json={"lat": 51 + i / 100, "lon": 4.4, "radiusM": 100}, headers=account.auth
        )
        assert ok.status_code == 201
    over = await client.post(
        "/me/privacy-zones", json={"lat": 52, "lon": 4.4, "radiusM": 100}, headers=account.auth
    )
    assert over.status_code == 409
    assert over.json()["type"].endswith("privacy-zone-limit")


async def test_no_cell_of_a_ride_is_kept_inside_a_privacy_zone(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    ride = simulated(25, duration_s=1200)
    middle = len(ride.true_lat) // 2
    centre = (ride.true_lat[middle], ride.true_lon[middle])
    zone = {"lat": centre[0], "lon": centre[1], "radiusM": 200}
    assert (await client.post("/me/privacy-zones", json=zone, headers=account.auth)).status_code == 201
    response = await upload(client, account.auth, ride_json(ride.points))
    assert response.status_code == 201
    assert response.json()["segmentCount"] >= 2  # the path is cut at the zone, never bridged across it
    cells = await rows(db_engine, "SELECT cell FROM ride_cell")
    for (cell,) in cells:
        lat, lon = h3.cell_to_latlng(h3.int_to_str(cell))
        assert haversine_m(centre[0], centre[1], lat, lon) > 200
    detail = (await client.get(f"/rides/{response.json()['id']}", headers=account.auth)).json()
    assert detail["path"]["geometry"]["type"] == "MultiLineString"
