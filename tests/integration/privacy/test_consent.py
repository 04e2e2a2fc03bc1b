"""Consent per purpose: grant, withdraw, history, children, and the 403 a route declares."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Register

Client = AsyncTestClient[Litestar]
CURRENT = {"granted": True, "policyVersion": "2026-01"}


async def _state(client: Client, auth: dict[str, str]) -> dict[str, dict[str, object]]:
    body = (await client.get("/me/consents", headers=auth)).json()
    return {p["purpose"]: p for p in body["purposes"]}


async def test_a_new_user_has_no_consent_for_anything(client: Client, register: Register) -> None:
    account = await register()
    states = await _state(client, account.auth)
    assert all(not s["effective"] and s["granted"] is None for s in states.values())


async def test_grant_then_withdraw_keeps_the_whole_history(client: Client, register: Register) -> None:
    account = await register()
    granted = await client.put("/me/consents/ride_tracking", json=CURRENT, headers=account.auth)
    assert granted.status_code == 200
    assert granted.json()["granted"] is True and granted.json()["givenBy"] == "self"
    assert (await _state(client, account.auth))["ride_tracking"]["effective"] is True

    withdrawn = await client.put(
        "/me/consents/ride_tracking",
        json={"granted": False, "policyVersion": "2026-01"},
        headers=account.auth,
    )
    assert withdrawn.status_code == 200
    overview = (await client.get("/me/consents", headers=account.auth)).json()
    assert overview["currentPolicyVersion"] == "2026-01"
    assert [(h["purpose"], h["granted"]) for h in overview["history"]] == [
        ("ride_tracking", True),
        ("ride_tracking", False),
    ]
    assert all(h["recordedAt"] and h["policyVersion"] == "2026-01" for h in overview["history"])
    assert (await _state(client, account.auth))["ride_tracking"]["effective"] is False


async def test_consent_is_per_purpose(client: Client, register: Register) -> None:
    account = await register(consents=("hazard_reporting",))
    states = await _state(client, account.auth)
    assert states["hazard_reporting"]["effective"] is True
    assert states["ride_tracking"]["effective"] is False


async def test_granting_an_outdated_policy_version_is_refused(client: Client, register: Register) -> None:
    account = await register()
    response = await client.put(
        "/me/consents/leaderboard", json={"granted": True, "policyVersion": "2019-01"}, headers=account.auth
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["field"] == "policyVersion"
    assert problem["currentPolicyVersion"] == "2026-01"
    assert (await client.get("/me/consents", headers=account.auth)).json()["history"] == []


async def test_unknown_purpose_is_a_validation_error(client: Client, register: Register) -> None:
    account = await register()
    response = await client.put("/me/consents/selling_data", json=CURRENT, headers=account.auth)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "purpose"


async def test_a_child_cannot_consent_alone(client: Client, register: Register) -> None:
    child = await register(birthYear=2016, consents=("ride_tracking",))
    me = (await client.get("/me", headers=child.auth)).json()
    assert me["isChild"] is True
    state = (await _state(client, child.auth))["ride_tracking"]
    assert state["granted"] is True
    assert state["effective"] is False
    assert state["guardianConsentRequired"] is True


async def test_consent_summary_is_part_of_the_profile(client: Client, register: Register) -> None:
    account = await register(consents=("leaderboard",))
    me = (await client.get("/me", headers=account.auth)).json()
    summary = {c["purpose"]: c["effective"] for c in me["consents"]}
    assert summary["leaderboard"] is True and summary["research_sharing"] is False


async def test_consent_endpoints_need_authentication(client: Client) -> None:
    assert (await client.get("/me/consents")).status_code == 401
    assert (await client.put("/me/consents/leaderboard", json=CURRENT)).status_code == 401
