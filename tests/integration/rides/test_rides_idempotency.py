"""Idempotent uploads: replays answer the first result and create nothing, even when concurrent."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Register
from tests.integration.ride_helpers import Client, count, ride_json, rows, simulated, upload


async def test_a_replay_returns_the_original_answer_and_creates_nothing(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    body = ride_json(simulated(11).points)
    idem = {"Idempotency-Key": "ride-key-0001"}
    first = await upload(client, account.auth, body, idem=idem)
    exposure = await rows(db_engine, "SELECT cell, rides FROM cell_exposure ORDER BY cell")
    second = await upload(client, account.auth, body, idem=idem)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert await count(db_engine, "ride") == 1
    assert await rows(db_engine, "SELECT cell, rides FROM cell_exposure ORDER BY cell") == exposure


async def test_the_same_key_with_another_body_is_422(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    idem = {"Idempotency-Key": "ride-key-0002"}
    assert (await upload(client, account.auth, ride_json(simulated(12).points), idem=idem)).status_code == 201
    other = await upload(client, account.auth, ride_json(simulated(13).points), idem=idem)
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert await count(db_engine, "ride") == 1


async def test_keys_belong_to_their_user(client: Client, register: Register, db_engine: AsyncEngine) -> None:
    anna, bert = await register(consents=("ride_tracking",)), await register(consents=("ride_tracking",))
    idem = {"Idempotency-Key": "shared-key-0003"}
    body = ride_json(simulated(14).points)
    a = await upload(client, anna.auth, body, idem=idem)
    b = await upload(client, bert.auth, body, idem=idem)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert await count(db_engine, "ride") == 2


async def test_concurrent_duplicates_create_one_ride_and_count_once(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    body = ride_json(simulated(15).points)
    idem = {"Idempotency-Key": "concurrent-key-0004"}
    answers = await asyncio.gather(*(upload(client, account.auth, body, idem=idem) for _ in range(8)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await count(db_engine, "ride") == 1
    assert await rows(db_engine, "SELECT max(rides) FROM cell_exposure") == [(1,)]
    cells = answers[0].json()["cellCount"]
    assert await count(db_engine, "ride_cell") == cells


async def test_concurrent_distinct_uploads_of_one_user_all_land(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    same_route = ride_json(simulated(16).points)
    answers = await asyncio.gather(*(upload(client, account.auth, same_route) for _ in range(5)))
    assert {a.status_code for a in answers} == {201}
    assert await count(db_engine, "ride") == 5
    assert await rows(db_engine, "SELECT DISTINCT rides FROM cell_exposure") == [(5,)]
