"""POST /rides: JSON and GPX uploads, mode classification, and every validation failure storing nothing."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.ride_helpers import (
    Client,
    count,
    key,
    recent_start,
    ride_gpx,
    ride_json,
    simulated,
    upload,
)

RIDE_TABLES = ("ride", "ride_cell", "cell_exposure", "cell_transition", "hazard_report", "idempotency_record")


async def assert_nothing_stored(engine: AsyncEngine) -> None:
    for table in RIDE_TABLES:
        assert await count(engine, table) == 0, table


async def test_json_upload_answers_a_summary_and_stores_cells(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    ride = simulated(1, duration_s=600)
    response = await upload(client, account.auth, ride_json(ride.points))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["mode"] == "bike"
    assert body["pointCount"] == 600
    assert abs(body["distanceM"] - ride.true_distance_m) < 0.1 * ride.true_distance_m
    assert 590 <= body["durationS"] <= 600
    assert body["cellCount"] > 5 and body["trimmedM"] >= 300  # both ends, at least 150 m each
    assert body["startedAt"].endswith(":00Z")  # rounded to the minute
    assert body["incidentsDropped"] == []
    assert body["pointsAwarded"] == int(body["distanceM"] * 10 // 1000)  # 10 per km cycled
    assert [b["code"] for b in body["badgesEarned"]] == ["first_ride"]
    assert await count(db_engine, "ride_cell") == body["cellCount"]


async def test_rfc3339_times_are_accepted_like_epoch_seconds(client: Client, register: Register) -> None:
    account = await register(consents=("ride_tracking",))
    points = simulated(2, duration_s=300).points
    body = ride_json(points)
    for p in body["points"]:
        p["t"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(p["t"]))
    response = await upload(client, account.auth, body)
    assert response.status_code == 201, response.text
    assert response.json()["pointCount"] == 300


async def test_gpx_upload_reads_every_track_segment(client: Client, register: Register) -> None:
    account = await register(consents=("ride_tracking",))
    points = simulated(3, duration_s=600).points
    gpx = ride_gpx([points[:300], points[300:]])
    headers = {**account.auth, **key(), "Content-Type": "application/gpx+xml"}
    response = await client.post("/rides", content=gpx, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["pointCount"] == 600
    assert response.json()["mode"] == "bike"


@pytest.mark.parametrize(("mode", "expected"), [("walk", "walk"), ("bike", "bike"), ("car", "motorised")])
async def test_the_mode_is_classified_from_speeds(
    client: Client, register: Register, mode: Any, expected: str
) -> None:
    account = await register(consents=("ride_tracking",))
    response = await upload(client, account.auth, ride_json(simulated(4, mode=mode, duration_s=900).points))
    assert response.status_code == 201, response.text
    assert response.json()["mode"] == expected


async def test_without_ride_tracking_consent_the_upload_is_refused(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("hazard_reporting",))
    response = await upload(client, account.auth, ride_json(simulated(5).points))
    assert response.status_code == 403
    assert response.json()["purpose"] == "ride_tracking"
    await assert_nothing_stored(db_engine)


async def test_anonymous_uploads_are_refused(client: Client) -> None:
    response = await client.post("/rides", json=ride_json(simulated(5).points), headers=key())
    assert response.status_code == 401


async def test_the_idempotency_key_is_required(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    response = await client.post("/rides", json=ride_json(simulated(6).points), headers=account.auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    await assert_nothing_stored(db_engine)


def _shifted(points: list[Any], index: int, **changes: Any) -> list[Any]:
    points = list(points)
    points[index] = msgspec.structs.replace(points[index], **changes)
    return points


def _cases() -> list[Any]:
    base = list(simulated(7, duration_s=120).points)
    old = list(simulated(7, duration_s=120, start_t=recent_start(20)).points)
    now = session_clock().timestamp()
    return [
        pytest.param(base[:1], "points", id="too-few-points"),
        pytest.param(_shifted(base, 5, lat=91.0), "points[5].lat", id="latitude-out-of-range"),
        pytest.param(_shifted(base, 6, lon=-180.5), "points[6].lon", id="longitude-out-of-range"),
        pytest.param(_shifted(base, 7, t=base[5].t), "points[7].t", id="time-going-backwards"),
        pytest.param(_shifted(base, 119, t=now + 3600), "points[119].t", id="time-in-the-future"),
        pytest.param(_shifted(old, 119, t=old[0].t + 13 * 3600), "points", id="ride-too-long"),
        pytest.param(_shifted(base, 3, accuracy=-1.0), "points[3].accuracy", id="negative-accuracy"),
    ]


@pytest.mark.parametrize(("points", "field"), _cases())
async def test_each_trace_rule_is_a_422_naming_the_field(
    client: Client, register: Register, db_engine: AsyncEngine, points: list[Any], field: str
) -> None:
    account = await register(consents=("ride_tracking",))
    response = await upload(client, account.auth, ride_json(points))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"].endswith("invalid-trace")
    assert problem["errors"][0]["field"] == field
    await assert_nothing_stored(db_engine)


@pytest.mark.parametrize("ended", ["1970-01-01T00:10:00Z", "2020-01-15T08:00:00Z", "eight-days-ago", -1e12])
async def test_a_ride_that_ended_before_the_upload_window_is_refused_and_earns_nothing(
    client: Client, register: Register, db_engine: AsyncEngine, ended: str | float
) -> None:
    account = await register(consents=("ride_tracking",))
    if ended == "eight-days-ago":
        end = recent_start(8 * 24)
    elif isinstance(ended, float):
        end = ended
    else:
        end = datetime.fromisoformat(ended).timestamp()
    points = list(simulated(8, duration_s=300, start_t=end - 300).points)
    response = await upload(client, account.auth, ride_json(points))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:saferoutes:problem:outside-upload-window"
    assert problem["errors"][0]["field"] == f"points[{len(points) - 1}].t"
    assert "7 days" in problem["detail"]
    await assert_nothing_stored(db_engine)
    assert await count(db_engine, "points_entry") == 0


async def test_too_many_points_is_refused(client: Client, register: Register, db_engine: AsyncEngine) -> None:
    account = await register(consents=("ride_tracking",))
    start = session_clock().timestamp() - 10 * 3600
    points = [{"lat": 51.0 + i * 1e-6, "lon": 4.48, "t": start + i} for i in range(20_001)]
    response = await upload(client, account.auth, {"points": points})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "points"
    await assert_nothing_stored(db_engine)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"points": [{"lat": "north", "lon": 4.4, "t": 1}]}', 400, "points[0].lat"),
        (b'{"points": [{"lat": 51, "lon": 4.4, "t": 1, "alt": 3}]}', 400, "points[0].alt"),
        (b'{"points": [{"lat": 51, "lon": 4.4}]}', 400, "points[0].t"),
        (b'{"points": [', 400, "body"),
    ],
    ids=["wrong-type", "unknown-field", "missing-time", "malformed-json"],
)
async def test_malformed_json_names_the_field(
    client: Client, register: Register, db_engine: AsyncEngine, body: bytes, status: int, field: str
) -> None:
    account = await register(consents=("ride_tracking",))
    headers = {**account.auth, **key(), "Content-Type": "application/json"}
    response = await client.post("/rides", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field
    await assert_nothing_stored(db_engine)


async def test_a_body_over_the_cap_is_413(client: Client, register: Register, db_engine: AsyncEngine) -> None:
    account = await register(consents=("ride_tracking",))
    body = json.dumps({"points": [], "pad": "x" * 5_100_000}).encode()
    headers = {**account.auth, **key(), "Content-Type": "application/json"}
    response = await client.post("/rides", content=body, headers=headers)
    assert response.status_code == 413
    await assert_nothing_stored(db_engine)


async def test_other_media_types_are_415(client: Client, register: Register) -> None:
    account = await register(consents=("ride_tracking",))
    headers = {**account.auth, **key(), "Content-Type": "text/csv"}
    response = await client.post("/rides", content=b"lat,lon\n", headers=headers)
    assert response.status_code == 415


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="51" lon="4"><time>&xxe;</time></trkpt></trkseg></trk></gpx>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<gpx version="1.1"><trk><trkseg><trkpt lat="51" lon="4"><name>&lol2;</name></trkpt></trkseg></trk></gpx>"""


@pytest.mark.parametrize(
    ("gpx", "field"),
    [
        (XXE, "gpx"),
        (LAUGHS, "gpx"),
        (b"<gpx><trk><trkseg><trkpt lat='51' lon='4'>", "gpx"),
        (b"<kml/>", "gpx"),
        (
            b"<gpx><trk><trkseg><trkpt lat='51' lon='4'/></trkseg></trk></gpx>",
            "gpx.trk[0].trkseg[0].trkpt[0].time",
        ),
    ],
    ids=["external-entity", "entity-expansion", "truncated", "not-gpx", "point-without-time"],
)
async def test_unsafe_or_broken_gpx_is_422(
    client: Client, register: Register, db_engine: AsyncEngine, gpx: bytes, field: str
) -> None:
    account = await register(consents=("ride_tracking",))
    headers = {**account.auth, **key(), "Content-Type": "application/gpx+xml"}
    response = await client.post("/rides", content=gpx, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    await assert_nothing_stored(db_engine)


async def test_the_openapi_document_describes_both_upload_formats(client: Client) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    content = schema["paths"]["/rides"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/gpx+xml"}
    assert "points" in content["application/json"]["schema"]["properties"]
