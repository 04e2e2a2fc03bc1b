"""The guardian flow end to end: a child joins, is refused, a guardian consents with the code, it works."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest
from litestar import Litestar, post
from litestar.status_codes import HTTP_204_NO_CONTENT
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.security import requires_consent
from domain.core.codes import CodeHasher
from domain.core.enums import ConsentPurpose
from domain.core.errors import InvalidInput
from geo.simulator import simulate_ride, street_grid
from privacy.guardians import service as guardian
from tests.clock import session_clock
from tests.integration.conftest import TEST_SECRET, Register
from tests.integration.school_helpers import (
    ADULT_YEAR,
    CHILD_YEAR,
    Client,
    execute,
    join,
    joined_child,
    scalar,
    setup_class,
)

GUARDED = "/test-only/ride-tracking"


@post(GUARDED, status_code=HTTP_204_NO_CONTENT, guards=[requires_consent(ConsentPurpose.RIDE_TRACKING)])
async def guarded_by_ride_tracking() -> None:
    """A throwaway route that processes nothing but declares the ride_tracking purpose."""


@pytest.fixture
async def client(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> AsyncGenerator[AsyncTestClient[Litestar], None]:
    app = make_app()
    app.register(guarded_by_ride_tracking)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


def _consent(code: str, *purposes: str, relationship: str = "parent") -> dict[str, Any]:
    return {"code": code, "relationship": relationship, "purposes": list(purposes or ["ride_tracking"])}


async def _consents(client: Client, auth: dict[str, str]) -> dict[str, dict[str, Any]]:
    body = (await client.get("/me/consents", headers=auth)).json()
    return {p["purpose"]: p for p in body["purposes"]}


def _ride() -> dict[str, Any]:
    start = float(int(session_clock().timestamp() - 7200) // 60 * 60)
    ride = simulate_ride(random.Random(3), mode="bike", duration_s=600, start_t=start, streets=street_grid())
    return {"points": [{"lat": p.lat, "lon": p.lon, "t": p.t, "accuracy": p.accuracy} for p in ride.points]}


async def test_a_child_gets_a_guardian_code_when_joining_and_an_adult_does_not(
    client: Client, register: Register
) -> None:
    _, _, _, klass = await setup_class(client)
    _, code = await joined_child(client, register, klass["joinCode"])
    assert len(code.replace("-", "")) == 12
    adult = await join(client, await register(birthYear=ADULT_YEAR), klass["joinCode"])
    assert adult.json()["guardianCode"] is None


async def test_guardian_flow_end_to_end(client: Client, register: Register) -> None:
    _, teacher, _, klass = await setup_class(client)
    child, code = await joined_child(client, register, klass["joinCode"], consents=("ride_tracking",))

    refused = await client.post(GUARDED, headers=child.auth)
    assert refused.status_code == 403
    problem = refused.json()
    assert problem["guardianConsentRequired"] is True and problem["purpose"] == "ride_tracking"
    assert "guardian must consent" in problem["detail"]
    assert (await _consents(client, child.auth))["ride_tracking"]["effective"] is False

    given = await client.post("/guardian-consents", json=_consent(code, "ride_tracking", "leaderboard"))
    assert given.status_code == 201, given.text
    body = given.json()
    assert body["givenBy"] == "guardian" and body["relationship"] == "parent"
    assert body["purposes"] == ["ride_tracking", "leaderboard"] and body["policyVersion"] == "2026-01"

    states = await _consents(client, child.auth)
    assert states["ride_tracking"]["effective"] is True
    assert states["ride_tracking"]["givenBy"] == "guardian"
    assert states["leaderboard"]["effective"] is True
    assert states["hazard_reporting"]["effective"] is False
    history = (await client.get("/me/consents", headers=child.auth)).json()["history"]
    assert [h["guardianRelationship"] for h in history if h["givenBy"] == "guardian"] == ["parent", "parent"]
    assert (await client.post(GUARDED, headers=child.auth)).status_code == 204

    view = (await client.get(f"/classes/{klass['id']}", headers=teacher.auth)).json()
    assert view["guardianConsentNeeded"] == 0 and view["guardianConsentGiven"] == 1


async def test_a_childs_ride_upload_waits_for_the_guardian(client: Client, register: Register) -> None:
    _, _, _, klass = await setup_class(client)
    child, code = await joined_child(client, register, klass["joinCode"], consents=("ride_tracking",))
    headers = {**child.auth, "Idempotency-Key": f"test-{uuid.uuid4()}"}
    refused = await client.post("/rides", json=_ride(), headers=headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["guardianConsentRequired"] is True
    assert (await client.post("/guardian-consents", json=_consent(code))).status_code == 201
    accepted = await client.post("/rides", json=_ride(), headers=headers)
    assert accepted.status_code == 201, accepted.text


async def test_the_guardian_code_works_once(client: Client, register: Register) -> None:
    _, _, _, klass = await setup_class(client)
    _, code = await joined_child(client, register, klass["joinCode"])
    assert (await client.post("/guardian-consents", json=_consent(code))).status_code == 201
    again = await client.post("/guardian-consents", json=_consent(code, "research_sharing"))
    assert again.status_code == 409
    assert again.json()["type"].endswith("guardian-code-used")


async def test_an_expired_or_unknown_guardian_code_is_refused(client: Client, register: Register) -> None:
    _, _, _, klass = await setup_class(client)
    child, code = await joined_child(client, register, klass["joinCode"])
    unknown = await client.post("/guardian-consents", json=_consent("ABCD-EFGH-JKMN"))
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "code"
    await execute(
        client,
        "UPDATE guardian_code SET expires_at = CAST(:now AS timestamptz) - interval '1 second'",
        now=session_clock(),
    )
    expired = await client.post("/guardian-consents", json=_consent(code))
    assert expired.status_code == 422
    assert expired.json()["type"].endswith("guardian-code-expired")
    assert (await _consents(client, child.auth))["ride_tracking"]["givenBy"] is None


async def test_a_new_guardian_code_replaces_the_old_one(client: Client, register: Register) -> None:
    _, _, _, klass = await setup_class(client)
    child, old = await joined_child(client, register, klass["joinCode"])
    renewed = await client.post("/me/guardian-code", headers=child.auth)
    assert renewed.status_code == 201
    new = renewed.json()["guardianCode"]
    assert new != old and renewed.json()["expiresAt"]
    assert (await client.post("/guardian-consents", json=_consent(old))).status_code == 422
    assert (await client.post("/guardian-consents", json=_consent(new))).status_code == 201


async def test_a_child_without_a_class_can_get_a_guardian_code(client: Client, register: Register) -> None:
    child = await register(birthYear=CHILD_YEAR)
    issued = await client.post("/me/guardian-code", headers=child.auth)
    assert issued.status_code == 201
    code = issued.json()["guardianCode"]
    given = await client.post("/guardian-consents", json=_consent(code, relationship="legal_guardian"))
    assert given.status_code == 201
    assert (await _consents(client, child.auth))["ride_tracking"]["effective"] is True


async def test_adults_need_no_guardian_code(client: Client, register: Register) -> None:
    adult = await register(birthYear=ADULT_YEAR)
    response = await client.post("/me/guardian-code", headers=adult.auth)
    assert response.status_code == 409
    assert response.json()["type"].endswith("guardian-not-needed")
    assert (await client.post("/me/guardian-code")).status_code == 401


async def test_guardian_consent_checks_its_body(client: Client, register: Register) -> None:
    child = await register(birthYear=CHILD_YEAR)
    code = (await client.post("/me/guardian-code", headers=child.auth)).json()["guardianCode"]
    bad_relationship = await client.post("/guardian-consents", json=_consent(code, relationship="neighbour"))
    assert bad_relationship.status_code == 400
    assert bad_relationship.json()["errors"][0]["field"] == "relationship"
    no_purpose = await client.post("/guardian-consents", json={**_consent(code), "purposes": []})
    assert no_purpose.status_code == 400
    stale = await client.post("/guardian-consents", json={**_consent(code), "policyVersion": "2019-01"})
    assert stale.status_code == 422 and stale.json()["errors"][0]["field"] == "policyVersion"
    assert (await client.post("/guardian-consents", json=_consent(code))).status_code == 201


async def test_guardian_consent_is_rate_limited_per_code(client: Client, register: Register) -> None:
    child = await register(birthYear=CHILD_YEAR)
    code = (await client.post("/me/guardian-code", headers=child.auth)).json()["guardianCode"]
    statuses = [(await client.post("/guardian-consents", json=_consent(code))).status_code for _ in range(6)]
    assert statuses == [201, 409, 409, 409, 409, 429]


async def test_guessing_guardian_codes_is_rate_limited_per_address(client: Client) -> None:
    guesses = [f"ABCD-EFGH-{n:04d}".replace("0", "2").replace("1", "3") for n in range(21)]
    statuses = [(await client.post("/guardian-consents", json=_consent(g))).status_code for g in guesses]
    assert statuses[:20] == [422] * 20
    assert statuses[20] == 429


async def test_the_used_code_still_identifies_the_child_for_guardian_actions(
    client: Client, register: Register
) -> None:
    _, _, _, klass = await setup_class(client)
    child, code = await joined_child(client, register, klass["joinCode"])
    codes = CodeHasher(TEST_SECRET)
    app: Litestar = client.app
    async with app.state.sessionmaker() as session:
        with pytest.raises(InvalidInput):
            await guardian.child_for_guardian(session, codes, code)
    assert (await client.post("/guardian-consents", json=_consent(code))).status_code == 201
    async with app.state.sessionmaker() as session:
        managed = await guardian.child_for_guardian(session, codes, code.lower())
        assert str(managed.id) == child.id


async def test_erasing_a_child_removes_membership_and_codes(client: Client, register: Register) -> None:
    _, teacher, _, klass = await setup_class(client)
    child, _ = await joined_child(client, register, klass["joinCode"])
    await execute(client, "DELETE FROM app_user WHERE id = :id", id=uuid.UUID(child.id))
    view = (await client.get(f"/classes/{klass['id']}", headers=teacher.auth)).json()
    assert view["memberCount"] == 0
    assert await scalar(client, "SELECT count(*) FROM guardian_code") == 0
    assert await scalar(client, "SELECT count(*) FROM class_membership") == 0
