"""The points ledger: exactly-once awards, caps, anti-cheat, reports, deletion, GET /me/points."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from gamification.anticheat.rules import flag_explanation
from gamification.streaks import local_date
from geo.points import TracePoint
from tests.integration.conftest import Register
from tests.integration.game_helpers import (
    Client,
    ledger,
    local_noon,
    ride_local_day,
    seed_points,
    seed_ride,
    total,
)
from tests.integration.hazard_helpers import REPORTING, far, filed, make_hazard, staff
from tests.integration.hazard_helpers import body as hazard_body
from tests.integration.ride_helpers import key, ride_json, rows, simulated, upload

RIDING = ("ride_tracking",)


async def test_a_ride_earns_ten_points_per_km_cycled_shown_in_the_ledger_and_profile(
    client: Client, register: Register
) -> None:
    account = await register(consents=RIDING)
    created = (await upload(client, account.auth, ride_json(simulated(1).points))).json()
    assert created["pointsAwarded"] == int(created["distanceM"] * 10 // 1000) > 0

    points = (await client.get("/me/points", headers=account.auth)).json()
    assert points["total"] == created["pointsAwarded"]
    [entry] = points["items"]
    assert entry["reason"] == "ride" and entry["source"] == created["id"]
    assert entry["amount"] == created["pointsAwarded"]
    profile = (await client.get("/me", headers=account.auth)).json()
    assert profile["pointsTotal"] == created["pointsAwarded"]


async def test_concurrent_replays_of_one_upload_award_exactly_once(
    client: Client, register: Register
) -> None:
    account = await register(consents=RIDING)
    body, same_key = ride_json(simulated(3).points), key()
    answers = await asyncio.gather(*(upload(client, account.auth, body, idem=same_key) for _ in range(5)))
    assert {a.status_code for a in answers} == {201}
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)  # the replay answers the same points and badges
    assert bodies[0]["pointsAwarded"] > 0 and [b["code"] for b in bodies[0]["badgesEarned"]] == ["first_ride"]
    assert await ledger(client, account.id) == [("ride", bodies[0]["pointsAwarded"], bodies[0]["id"])]
    assert (await client.get("/me/badges", headers=account.auth)).json()[0]["code"] == "first_ride"


async def test_the_same_trace_under_another_key_is_flagged_and_earns_nothing(
    client: Client, register: Register
) -> None:
    account = await register(consents=RIDING)
    body = ride_json(simulated(4).points)
    first = (await upload(client, account.auth, body)).json()
    copies = await asyncio.gather(*(upload(client, account.auth, body) for _ in range(3)))
    assert all(c.status_code == 201 and c.json()["pointsAwarded"] == 0 for c in copies)
    assert await total(client, account.id) == first["pointsAwarded"] > 0
    flagged = await rows(
        client.app.state.engine,
        "SELECT flagged, flags FROM ride WHERE id <> :id ORDER BY created_at",
        id=first["id"],
    )
    assert flagged == [(True, ["duplicate"])] * 3
    # the answer says why: the flags and one sentence, the same when the ride is read again
    assert first["flags"] == [] and first["flagReason"] is None
    copy = copies[0].json()
    assert copy["flags"] == ["duplicate"]
    assert copy["flagReason"] == flag_explanation(["duplicate"])
    assert "no points" in copy["flagReason"] and "already uploaded" in copy["flagReason"]
    read = (await client.get(f"/rides/{copy['id']}", headers=account.auth)).json()
    assert (read["flags"], read["flagReason"]) == (copy["flags"], copy["flagReason"])


async def test_a_teleporting_ride_is_flagged_and_earns_nothing(client: Client, register: Register) -> None:
    account = await register(consents=RIDING)
    points = simulated(1).points
    jumped = [
        TracePoint(p.lat + (0.03 if i >= 300 else 0), p.lon, p.t, p.accuracy) for i, p in enumerate(points)
    ]
    created = (await upload(client, account.auth, ride_json(jumped))).json()
    assert created["mode"] == "bike" and created["pointsAwarded"] == 0 and created["badgesEarned"] == []
    [(flagged, flags)] = await rows(client.app.state.engine, "SELECT flagged, flags FROM ride")
    assert flagged and "teleport" in flags
    assert created["flags"] == flags and "jumps" in created["flagReason"]
    assert await ledger(client, account.id) == []


async def test_a_motorised_ride_earns_nothing(client: Client, register: Register) -> None:
    account = await register(consents=RIDING)
    created = (await upload(client, account.auth, ride_json(simulated(1, mode="car").points))).json()
    assert created["mode"] == "motorised" and created["pointsAwarded"] == 0 and created["badgesEarned"] == []
    assert created["flags"] == [] and created["flagReason"] is None  # not cheating: just not a trip
    assert await ledger(client, account.id) == []


NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
"""The uploads' moment in the cap tests (a Tuesday morning in Brussels)."""


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr("api.rides.http.utcnow", lambda: NOW)
    return NOW


async def test_the_daily_ride_cap_cuts_the_last_ride_of_the_day(
    client: Client, register: Register, frozen: datetime
) -> None:
    account = await register(consents=RIDING)
    await seed_points(client, account.id, 295, day=local_date(frozen))
    ride = simulated(5, start_t=(frozen - timedelta(hours=2)).timestamp())
    created = (await upload(client, account.auth, ride_json(ride.points))).json()
    assert created["pointsAwarded"] == 5
    assert await total(client, account.id) == 300


async def test_a_ride_synced_days_late_is_paid_under_the_cap_of_the_day_it_arrives(
    client: Client, register: Register, frozen: datetime
) -> None:
    account = await register(consents=RIDING)
    await seed_points(client, account.id, 295, day=local_date(frozen))
    late = simulated(5, start_t=(frozen - timedelta(days=3)).timestamp())
    created = (await upload(client, account.auth, ride_json(late.points))).json()
    assert created["pointsAwarded"] == 5, "the ride's own day, still empty, opened no fresh cap"
    days = await rows(
        client.app.state.engine,
        "SELECT DISTINCT day FROM points_entry WHERE user_id = CAST(:u AS uuid)",
        u=account.id,
    )
    assert days == [(local_date(frozen),)]


async def test_a_week_of_rides_uploaded_at_once_earns_one_days_cap(
    client: Client, register: Register, frozen: datetime
) -> None:
    account = await register(consents=RIDING)
    earned = 0
    for back in range(1, 7):
        ride = simulated(20 + back, duration_s=3600, start_t=(frozen - timedelta(days=back)).timestamp())
        answer = await upload(client, account.auth, ride_json(ride.points))
        assert answer.status_code == 201, answer.text
        earned += answer.json()["pointsAwarded"]
    assert earned == await total(client, account.id) == 300


async def test_deleting_a_ride_takes_its_points_with_it(client: Client, register: Register) -> None:
    account = await register(consents=RIDING)
    kept = (await upload(client, account.auth, ride_json(simulated(6).points))).json()
    gone = (await upload(client, account.auth, ride_json(simulated(7, start_t=None).points))).json()
    assert gone["pointsAwarded"] > 0
    assert (await client.delete(f"/rides/{gone['id']}", headers=account.auth)).status_code == 204
    assert await ledger(client, account.id) == [("ride", kept["pointsAwarded"], kept["id"])]


async def test_seven_active_days_in_a_row_pay_the_streak_bonus_once(
    client: Client, register: Register
) -> None:
    account = await register(consents=RIDING)
    ride = simulated(8)
    first = (await upload(client, account.auth, ride_json(ride.points))).json()
    day = ride_local_day(first)
    for back in range(1, 7):
        await seed_ride(client, account.id, started_at=local_noon(day - timedelta(days=back)))
    await upload(client, account.auth, ride_json(simulated(9).points))
    await upload(client, account.auth, ride_json(simulated(10).points))
    streak = [e for e in await ledger(client, account.id) if e[0] == "streak"]
    assert streak == [("streak", 25, day.isoformat())]


async def test_a_report_earns_when_someone_else_confirms_it_not_when_filed(
    client: Client, register: Register
) -> None:
    reporter = await register(consents=REPORTING)
    confirmer, disputer = await register(consents=REPORTING), await register(consents=REPORTING)
    first = await filed(client, reporter)
    await filed(client, reporter)  # the same hazard again: still one report's worth
    assert await ledger(client, reporter.id) == []

    disputed = await client.post(
        f"/hazards/{first['hazardId']}/confirmations", json={"stillThere": False}, headers=disputer.auth
    )
    assert disputed.status_code == 201
    assert await ledger(client, reporter.id) == []
    assert [e[:2] for e in await ledger(client, disputer.id)] == [("confirmation", 2)]

    confirmed = await client.post(
        f"/hazards/{first['hazardId']}/confirmations", json={"stillThere": True}, headers=confirmer.auth
    )
    assert confirmed.status_code == 201
    assert await ledger(client, reporter.id) == [("report_confirmed", 20, first["reportId"])]
    assert [e[:2] for e in await ledger(client, confirmer.id)] == [("confirmation", 2)]


async def test_concurrent_replays_of_one_confirmation_award_once(client: Client, register: Register) -> None:
    reporter = await register(consents=REPORTING)
    confirmer = await register(consents=REPORTING)
    report = await filed(client, reporter)
    path = f"/hazards/{report['hazardId']}/confirmations"
    answers = await asyncio.gather(
        *(client.post(path, json={"stillThere": True}, headers=confirmer.auth) for _ in range(5))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    assert [e[:2] for e in await ledger(client, confirmer.id)] == [("confirmation", 2)]
    assert await ledger(client, reporter.id) == [("report_confirmed", 20, report["reportId"])]


async def test_a_planner_acknowledging_a_hazard_pays_its_reporters_once(
    client: Client, register: Register
) -> None:
    reporter = await register(consents=REPORTING)
    report = await filed(client, reporter, hazard_body(*far(3)))
    planner = await staff(client)
    path = f"/hazards/{report['hazardId']}"
    assert (
        await client.patch(path, json={"status": "acknowledged"}, headers=planner.auth)
    ).status_code == 200
    assert (await client.patch(path, json={"status": "planned"}, headers=planner.auth)).status_code == 200
    assert await ledger(client, reporter.id) == [("report_acknowledged", 30, report["reportId"])]


async def test_confirmation_points_stop_at_the_daily_cap(client: Client, register: Register) -> None:
    confirmer = await register(consents=REPORTING)
    hazards = [await make_hazard(client, lat=far(i)[0], lon=far(i)[1]) for i in range(1, 8)]
    for hazard_id in hazards:
        answer = await client.post(
            f"/hazards/{hazard_id}/confirmations", json={"stillThere": True}, headers=confirmer.auth
        )
        assert answer.status_code == 201, answer.text
    assert [e[1] for e in await ledger(client, confirmer.id)] == [2, 2, 2, 2, 2]
    assert await total(client, confirmer.id) == 10
