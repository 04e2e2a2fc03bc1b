"""Near misses in a ride become hazard reports tied to it, or are dropped with the reason said."""

from __future__ import annotations

import uuid
from typing import Any

import h3
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Register
from tests.integration.ride_helpers import Client, count, ride_json, rows, simulated, upload


def _incident(point: Any, **changes: Any) -> dict[str, Any]:
    return {
        "t": point.t,
        "lat": point.lat,
        "lon": point.lon,
        "category": "close_pass",
        "severity": 2,
        **changes,
    }


async def test_incidents_become_reports_tied_to_the_ride(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking", "hazard_reporting"))
    points = simulated(51, duration_s=600).points
    incidents = [_incident(points[200]), _incident(points[400], category="speeding", description="van at 60")]
    response = await upload(client, account.auth, ride_json(points, incidents))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["incidentsFiled"] == 2 and body["incidentsDropped"] == []
    reports = await rows(
        db_engine, "SELECT ride_id, ride_offset_s, category FROM hazard_report ORDER BY ride_offset_s"
    )
    ride_id = uuid.UUID(body["id"])
    assert [(r, c) for r, _, c in reports] == [(ride_id, "close_pass"), (ride_id, "speeding")]
    assert 150 <= reports[0][1] <= 260  # seconds into the ride, measured from the minute it started
    assert await rows(db_engine, "SELECT sum(report_count) FROM hazard") == [(2,)]


async def test_without_hazard_consent_incidents_are_dropped_and_the_ride_kept(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    points = simulated(52, duration_s=600).points
    response = await upload(client, account.auth, ride_json(points, [_incident(points[100])]))
    assert response.status_code == 201
    assert response.json()["incidentsDropped"] == [{"index": 0, "reason": "hazard_reporting_consent_missing"}]
    assert response.json()["incidentsFiled"] == 0
    assert await count(db_engine, "hazard_report") == 0
    assert await count(db_engine, "ride") == 1


async def test_incidents_inside_a_privacy_zone_are_dropped(client: Client, register: Register) -> None:
    account = await register(consents=("ride_tracking", "hazard_reporting"))
    points = simulated(53, duration_s=600).points
    zone = {"lat": points[300].lat, "lon": points[300].lon, "radiusM": 100}
    assert (await client.post("/me/privacy-zones", json=zone, headers=account.auth)).status_code == 201
    response = await upload(
        client, account.auth, ride_json(points, [_incident(points[100]), _incident(points[300])])
    )
    assert response.json()["incidentsFiled"] == 1
    assert response.json()["incidentsDropped"] == [{"index": 1, "reason": "inside_privacy_zone"}]


async def test_an_invalid_incident_is_422_naming_it_and_nothing_is_stored(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking", "hazard_reporting"))
    points = simulated(54, duration_s=600).points
    cases = [
        (_incident(points[10], category="aliens"), "incidents[1].category"),
        (_incident(points[10], severity=7), "incidents[1].severity"),
        (_incident(points[10], t=points[-1].t + 3600), "incidents[1].t"),
        (_incident(points[10], lat=123.0), "incidents[1].lat"),
    ]
    for bad, field in cases:
        response = await upload(client, account.auth, ride_json(points, [_incident(points[5]), bad]))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    for table in ("ride", "hazard_report", "hazard", "cell_exposure"):
        assert await count(db_engine, table) == 0


async def test_deleting_the_ride_deletes_its_reports_and_the_hazard_counts_follow(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    anna = await register(consents=("ride_tracking", "hazard_reporting"))
    bert = await register(consents=("ride_tracking", "hazard_reporting"))
    points = simulated(55, duration_s=600).points
    shared, alone = points[200], points[450]
    await upload(client, bert.auth, ride_json(points, [_incident(shared)]))
    mine = await upload(
        client, anna.auth, ride_json(points, [_incident(shared), _incident(alone, category="speeding")])
    )
    assert await rows(db_engine, "SELECT category, report_count FROM hazard ORDER BY 1") == [
        ("close_pass", 2),
        ("speeding", 1),
    ]
    assert (await client.delete(f"/rides/{mine.json()['id']}", headers=anna.auth)).status_code == 204
    assert await rows(db_engine, "SELECT category, report_count FROM hazard ORDER BY 1") == [
        ("close_pass", 1)
    ]
    assert await count(db_engine, "hazard_report") == 1


async def test_a_near_miss_in_the_trimmed_start_is_published_at_its_cell_not_its_point(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking", "hazard_reporting"))
    points = simulated(57, duration_s=600).points
    near_home, on_the_way = points[1], points[300]  # seconds from the start: well within 150 m
    response = await upload(
        client, account.auth, ride_json(points, [_incident(near_home), _incident(on_the_way)])
    )
    assert response.status_code == 201, response.text
    published = await client.get("/hazards")
    spots = {(h["lat"], h["lon"]): h["cell"] for h in published.json()["items"]}
    centre = h3.cell_to_latlng(h3.latlng_to_cell(near_home.lat, near_home.lon, 10))
    assert (round(centre[0], 5), round(centre[1], 5)) in spots, "the trimmed end's hazard sits at its cell"
    assert (round(near_home.lat, 5), round(near_home.lon, 5)) not in spots
    assert (round(on_the_way.lat, 5), round(on_the_way.lon, 5)) in spots, "elsewhere the point is public"
