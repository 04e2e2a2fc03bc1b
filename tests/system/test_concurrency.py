"""Concurrency against the real two-worker service: racing clients end in the state a serial run gives.

Each scenario fires the same requests at once from many connections, so they
land on both worker processes and interleave inside PostgreSQL; the end state
is compared with what the same requests made one after the other produce.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.database import to_async_url
from gamification.leaderboards.store import STORED_MIN_TRIP_M
from tests.integration.game_helpers import CHALLENGE_TOTALS_FRESH, CHALLENGE_TOTALS_STORED
from tests.integration.ride_helpers import recent_start, ride_json, simulated
from tests.system.cluster import Service
from tests.system.conftest import StartService, citizen, create_staff

USERS = 12
REPEATS = 4


@pytest.fixture(scope="module")
def service(start_service: StartService) -> Iterator[Service]:
    return start_service(workers=2, SAFEROUTES_RATE_LIMIT_PER_MINUTE="100000")


async def test_same_rides_with_same_keys_at_once_store_each_ride_once(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        users = [await citizen(http, ("ride_tracking",)) for _ in range(USERS)]
        # every user sends the same key (per user, keys are independent) several times at once
        body = ride_json(simulated(7).points)
        headers = [{**auth, "Idempotency-Key": "school-morning-0001"} for auth in users]
        answers = await asyncio.gather(
            *(http.post("/rides", json=body, headers=h) for h in headers for _ in range(REPEATS))
        )
        assert [a.status_code for a in answers] == [201] * (USERS * REPEATS), [a.text for a in answers][:3]
        per_user = [{a.json()["id"] for a in answers[i * REPEATS : (i + 1) * REPEATS]} for i in range(USERS)]
        assert all(len(ids) == 1 for ids in per_user), "one key was answered with several rides"
        assert len(set.union(*per_user)) == USERS
        for auth, ids in zip(users, per_user, strict=True):
            listing = (await http.get("/rides", headers=auth)).json()["items"]
            assert [r["id"] for r in listing] == list(ids)


async def test_many_confirmations_of_one_hazard_at_once_count_each_user_once(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        reporter = await citizen(http, ("hazard_reporting",))
        reported = await http.post(
            "/hazards",
            json={"lat": 51.0259, "lon": 4.4776, "category": "road_surface", "severity": 2},
            headers={**reporter, "Idempotency-Key": "hazard-concurrency-1"},
        )
        assert reported.status_code == 201, reported.text
        hazard_id = reported.json()["hazardId"]
        users = [await citizen(http, ("hazard_reporting",)) for _ in range(USERS)]
        answers = await asyncio.gather(
            *(
                http.post(f"/hazards/{hazard_id}/confirmations", json={"stillThere": True}, headers=auth)
                for auth in users
                for _ in range(REPEATS)
            )
        )
        for i in range(USERS):
            statuses = sorted(a.status_code for a in answers[i * REPEATS : (i + 1) * REPEATS])
            assert statuses == [201] + [409] * (REPEATS - 1), statuses  # as serially: once, then "already"
        hazard = (await http.get(f"/hazards/{hazard_id}")).json()
        assert hazard["confirmationCount"] == USERS


async def _school_with_class(http: httpx.AsyncClient, service: Service, admin: str) -> tuple[str, str, str]:
    """A new school, a teacher of it and a class: the teacher's token, the class id and its join code."""
    created = await http.post(
        "/schools",
        json={"name": "Concurrent school", "lat": 51.02, "lon": 4.47},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert created.status_code == 201, created.text
    school_id = created.json()["id"]
    teacher = await asyncio.to_thread(create_staff, service, "teacher", school_id)
    made = await http.post(
        f"/schools/{school_id}/classes", json={"name": "6B"}, headers={"Authorization": f"Bearer {teacher}"}
    )
    assert made.status_code == 201, made.text
    return teacher, made.json()["id"], made.json()["joinCode"]


async def test_joining_the_same_class_at_once_makes_each_pupil_a_member_once(service: Service) -> None:
    admin = await asyncio.to_thread(create_staff, service, "admin")
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        token, class_id, code = await _school_with_class(http, service, admin)
        teacher = {"Authorization": f"Bearer {token}"}
        pupils = [await citizen(http, ()) for _ in range(USERS)]
        answers = await asyncio.gather(
            *(
                http.post("/classes/join", json={"joinCode": code}, headers=auth)
                for auth in pupils
                for _ in range(REPEATS)
            )
        )
        for i in range(USERS):
            statuses = {a.status_code for a in answers[i * REPEATS : (i + 1) * REPEATS]}
            # a join is idempotent; a racing twin may be told to retry (409), never anything else
            assert 201 in statuses and statuses <= {201, 409}, statuses
        detail = await http.get(f"/classes/{class_id}", headers=teacher)
        assert detail.status_code == 200, detail.text
        assert detail.json()["memberCount"] == USERS
        assert len(detail.json()["members"]) == USERS


async def test_challenge_totals_stay_exact_under_racing_uploads_and_class_joins(service: Service) -> None:
    admin = await asyncio.to_thread(create_staff, service, "admin")
    now = datetime.now(UTC)
    window = {
        "startsAt": (now - timedelta(days=1)).isoformat(),
        "endsAt": (now + timedelta(days=1)).isoformat(),
    }
    async with httpx.AsyncClient(base_url=service.base_url, timeout=120) as http:
        teacher, class_id, code = await _school_with_class(http, service, admin)
        for token, body in (
            (admin, {"scope": "city", "metric": "trips", **window}),
            (teacher, {"scope": "class", "scopeId": class_id, "metric": "distance", **window}),
        ):
            made = await http.post("/challenges", json=body, headers={"Authorization": f"Bearer {token}"})
            assert made.status_code == 201, made.text
        pupils = [await citizen(http, ("ride_tracking",)) for _ in range(USERS)]

        def upload(i: int, n: int) -> httpx.Request:
            ride = simulated(100 * i + n, start_t=recent_start(hours_ago=1 + n))
            headers = {**pupils[i], "Idempotency-Key": f"challenge-race-{i}-{n}"}
            return http.build_request("POST", "/rides", json=ride_json(ride.points), headers=headers)

        # each pupil joins the class while their own rides are being uploaded at the same time
        requests = [
            request
            for i, auth in enumerate(pupils)
            for request in (
                http.build_request("POST", "/classes/join", json={"joinCode": code}, headers=auth),
                *(upload(i, n) for n in range(REPEATS)),
            )
        ]
        answers = await asyncio.gather(*(http.send(r) for r in requests))
        assert {a.status_code for a in answers} == {201}, [a.text for a in answers if a.status_code != 201][
            :3
        ]

    engine = create_async_engine(to_async_url(service.database_url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            stored = {tuple(r) for r in await conn.execute(sa.text(CHALLENGE_TOTALS_STORED))}
            fresh = await conn.execute(sa.text(CHALLENGE_TOTALS_FRESH), {"min_trip_m": STORED_MIN_TRIP_M})
            assert stored == {tuple(r) for r in fresh}
    finally:
        await engine.dispose()
    assert len(stored) >= USERS * 2  # every pupil in both challenges, each with a class
