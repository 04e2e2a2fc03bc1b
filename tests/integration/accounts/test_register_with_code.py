"""Registering with a class join code: a class behind one school address is not stopped by the
per-address limit, but bounded per code; invalid codes still count against the address."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.school_helpers import ADULT_YEAR, CHILD_YEAR, setup_class

Client = AsyncTestClient[Litestar]
PER_ADDRESS = 20
PER_CODE = 30


@pytest.fixture
async def school_network(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> AsyncGenerator[Client, None]:
    """Every request comes from one address, with the production limit per address."""
    app = make_app(register_per_hour=PER_ADDRESS, register_per_join_code_per_day=PER_CODE)
    async with AsyncTestClient(app=app) as client:
        yield client


async def _register(client: Client, handle: str, **fields: Any) -> Any:
    return await client.post(
        "/auth/register", json={"handle": handle, "password": "correct horse battery", **fields}
    )


async def _users(client: Client) -> int:
    app: Litestar = client.app
    async with app.state.sessionmaker() as session:
        return int((await session.execute(sa.text("SELECT count(*) FROM app_user"))).scalar_one())


async def test_a_class_registers_past_the_address_limit_and_then_the_address_is_spent(
    school_network: Client,
) -> None:
    client = school_network
    _, teacher, _, created = await setup_class(client)
    code = created["joinCode"]
    for i in range(25):
        answer = await _register(client, f"pupil{i}", birthYear=CHILD_YEAR, joinCode=code.lower())
        assert answer.status_code == 201, (i, answer.text)
        joined = answer.json()["joinedClass"]
        assert joined["classId"] == created["id"]
        assert joined["guardianCode"], "a child under 13 gets the code for a guardian"
    view = (await client.get(f"/classes/{created['id']}", headers=teacher.auth)).json()
    assert view["memberCount"] == 25

    # the coded registrations used up the address: a plain one from it is refused
    plain = await _register(client, "walkin", birthYear=ADULT_YEAR)
    assert plain.status_code == 429, plain.text
    assert int(plain.headers["retry-after"]) >= 1


async def test_registrations_are_bounded_per_join_code(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> None:
    async with AsyncTestClient(app=make_app(register_per_join_code_per_day=3)) as client:
        _, teacher, school_id, first = await setup_class(client)
        second = await client.post(f"/schools/{school_id}/classes", json={"name": "6A"}, headers=teacher.auth)
        statuses = [
            (await _register(client, f"kid{i}", birthYear=ADULT_YEAR, joinCode=first["joinCode"])).status_code
            for i in range(4)
        ]
        assert statuses == [201, 201, 201, 429]
        other = await _register(
            client, "otherclass", birthYear=ADULT_YEAR, joinCode=second.json()["joinCode"]
        )
        assert other.status_code == 201, "another code has an allowance of its own"


async def test_invalid_codes_count_against_the_address_and_store_nothing(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> None:
    async with AsyncTestClient(app=make_app(register_per_hour=3)) as client:
        await setup_class(client)
        before = await _users(client)
        for i in range(3):
            guess = await _register(client, f"guess{i}", birthYear=ADULT_YEAR, joinCode=f"ABCD-EFG{i + 2}")
            assert guess.status_code == 422, guess.text
            assert guess.json()["errors"][0]["field"] == "joinCode"
        assert await _users(client) == before
        assert (
            await _register(client, "guess9", birthYear=ADULT_YEAR, joinCode="ABCD-EFGH")
        ).status_code == 429
        assert (await _register(client, "plain", birthYear=ADULT_YEAR)).status_code == 429


async def test_a_code_needs_a_birth_year_and_a_refused_registration_leaves_nothing(
    school_network: Client,
) -> None:
    client = school_network
    _, _, _, created = await setup_class(client)
    before = await _users(client)
    missing = await _register(client, "noyear", joinCode=created["joinCode"])
    assert missing.status_code == 422, missing.text
    assert missing.json()["errors"][0]["field"] == "birthYear"
    assert await _users(client) == before
    again = await _register(client, "noyear", birthYear=ADULT_YEAR, joinCode=created["joinCode"])
    assert again.status_code == 201, again.text
