"""One person, one voice: support, severity and confirmation count people; a repeat updates one's report.

And a hazard ages from when it was observed, not from when the observation was uploaded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.danger.store import active_hazards
from domain.routing.store import confirmed_hazard_cells
from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.hazard_helpers import HERE, REPORTING, Client, body, count, filed
from tests.integration.ride_helpers import ride_json, simulated, upload


async def _hazard(client: Client, hazard_id: str) -> dict[str, object]:
    response = await client.get(f"/hazards/{hazard_id}")
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


async def test_twenty_reports_from_one_account_are_one_report(client: Client, register: Register) -> None:
    crowd_of_one = await register(consents=REPORTING)
    receipts = [await filed(client, crowd_of_one, body(severity=3)) for _ in range(19)]
    receipts.append(await filed(client, crowd_of_one, body(severity=1)))
    assert {r["hazardId"] for r in receipts} == {receipts[0]["hazardId"]}
    assert {r["reportId"] for r in receipts} == {receipts[0]["reportId"]}, "the one report, updated"
    hazard = await _hazard(client, str(receipts[0]["hazardId"]))
    assert hazard["reportCount"] == 1
    assert hazard["severity"] == 1, "the person's latest word, not twenty votes"
    assert await count(client, "hazard_report") == 1
    async with client.app.state.sessionmaker() as session:
        [inputs] = (await active_hazards(session, resolution=10)).values()
        assert [h.reports for h in inputs] == [1]
        assert await confirmed_hazard_cells(session, resolution=10) == {}, "one person is not a confirmation"


async def test_a_second_person_confirms_for_routing(client: Client, register: Register) -> None:
    first, second = await register(consents=REPORTING), await register(consents=REPORTING)
    await filed(client, first)
    await filed(client, first)
    async with client.app.state.sessionmaker() as session:
        assert await confirmed_hazard_cells(session, resolution=10) == {}
    await filed(client, second)
    async with client.app.state.sessionmaker() as session:
        assert sum((await confirmed_hazard_cells(session, resolution=10)).values()) == 1


async def test_a_confirmer_who_then_reports_counts_once(client: Client, register: Register) -> None:
    reporter, neighbour = await register(consents=REPORTING), await register(consents=REPORTING)
    hazard_id = (await filed(client, reporter))["hazardId"]
    confirmed = await client.post(
        f"/hazards/{hazard_id}/confirmations", json={"stillThere": True}, headers=neighbour.auth
    )
    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["confirmationCount"] == 1
    await filed(client, neighbour)
    hazard = await _hazard(client, str(hazard_id))
    assert (hazard["reportCount"], hazard["confirmationCount"]) == (2, 0)


async def test_an_older_observation_does_not_replace_a_fresher_one(
    client: Client, register: Register
) -> None:
    person = await register(consents=REPORTING)
    now = session_clock()
    fresh = (now - timedelta(hours=1)).isoformat()
    stale = (now - timedelta(days=2)).isoformat()
    hazard_id = (await filed(client, person, body(severity=3, observedAt=fresh)))["hazardId"]
    await filed(client, person, body(severity=1, observedAt=stale))
    hazard = await _hazard(client, str(hazard_id))
    assert hazard["severity"] == 3
    # Public times are whole hours (docs/privacy.md), so the fresher hour is the one shown.
    fresh_hour = datetime.fromisoformat(fresh).replace(minute=0, second=0, microsecond=0)
    assert datetime.fromisoformat(str(hazard["lastConfirmedAt"])) == fresh_hour


async def test_a_near_miss_synced_late_ages_from_when_it_happened(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    rider = await register(consents=("ride_tracking", *REPORTING))
    start = (session_clock() - timedelta(days=3)).replace(second=0, microsecond=0)
    ride = simulated(3, duration_s=600, start_t=start.timestamp())
    at = ride.points[300]
    incident = {"t": at.t, "lat": HERE[0], "lon": HERE[1], "category": "close_pass", "severity": 2}
    created = await upload(client, rider.auth, ride_json(ride.points, [incident]))
    assert created.status_code == 201, created.text
    assert created.json()["incidentsFiled"] == 1
    [hazard] = (await client.get("/hazards")).json()["items"]
    observed = datetime.fromtimestamp(at.t, UTC).replace(second=0, microsecond=0)
    assert datetime.fromisoformat(hazard["lastConfirmedAt"]) == observed.replace(minute=0)
    async with client.app.state.sessionmaker() as session:
        [[inputs]] = (await active_hazards(session, resolution=10)).values()
        assert inputs.last_activity == observed


async def test_two_incidents_of_one_ride_at_one_spot_are_one_report(
    client: Client, register: Register
) -> None:
    rider = await register(consents=("ride_tracking", *REPORTING))
    ride = simulated(4, duration_s=600)
    incidents = [
        {"t": ride.points[i].t, "lat": HERE[0], "lon": HERE[1], "category": "close_pass", "severity": s}
        for i, s in ((100, 1), (200, 3))
    ]
    created = await upload(client, rider.auth, ride_json(ride.points, incidents))
    assert created.status_code == 201, created.text
    [hazard] = (await client.get("/hazards")).json()["items"]
    assert (hazard["reportCount"], hazard["severity"]) == (1, 3)
    assert await count(client, "hazard_report") == 1
