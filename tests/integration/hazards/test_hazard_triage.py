"""Confirmations and their limits, every triage transition and its guard, and the status history."""

from __future__ import annotations

import itertools

import pytest

from domain.core.enums import Role
from domain.hazards.rules import ALLOWED_TRANSITIONS, HazardStatus
from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.hazard_helpers import REPORTING, Client, body, count, far, filed, make_hazard, staff

# how to reach each status from open with allowed steps
PATH_TO = {
    HazardStatus.OPEN: [],
    HazardStatus.ACKNOWLEDGED: ["acknowledged"],
    HazardStatus.PLANNED: ["acknowledged", "planned"],
    HazardStatus.RESOLVED: ["planned", "resolved"],
    HazardStatus.REJECTED: ["rejected"],
}
PAIRS = list(itertools.product(HazardStatus, HazardStatus))


async def test_confirm_and_dispute_update_the_counts(client: Client, register: Register) -> None:
    hazard_id = (await filed(client, await register(consents=REPORTING)))["hazardId"]
    before = (await client.get(f"/hazards/{hazard_id}")).json()
    yes = await client.post(
        f"/hazards/{hazard_id}/confirmations",
        json={"stillThere": True},
        headers=(await register(consents=REPORTING)).auth,
    )
    no = await client.post(
        f"/hazards/{hazard_id}/confirmations",
        json={"stillThere": False},
        headers=(await register(consents=REPORTING)).auth,
    )
    assert yes.status_code == no.status_code == 201
    after = no.json()
    assert (after["reportCount"], after["confirmationCount"], after["disputeCount"]) == (1, 1, 1)
    assert after["lastConfirmedAt"] >= before["lastConfirmedAt"]
    assert after["lastConfirmedAt"] == yes.json()["lastConfirmedAt"], "a dispute is not a confirmation"


async def test_a_second_confirmation_by_the_same_user_is_409(client: Client, register: Register) -> None:
    hazard_id = (await filed(client, await register(consents=REPORTING)))["hazardId"]
    other = await register(consents=REPORTING)
    url = f"/hazards/{hazard_id}/confirmations"
    assert (await client.post(url, json={"stillThere": True}, headers=other.auth)).status_code == 201
    again = await client.post(url, json={"stillThere": False}, headers=other.auth)
    assert again.status_code == 409
    assert again.json()["type"].endswith("already-confirmed")
    assert await count(client, "hazard_confirmation") == 1
    hazard = (await client.get(f"/hazards/{hazard_id}")).json()
    assert (hazard["confirmationCount"], hazard["disputeCount"]) == (1, 0)


async def test_a_reporter_cannot_confirm_their_own_hazard(client: Client, register: Register) -> None:
    reporter = await register(consents=REPORTING)
    hazard_id = (await filed(client, reporter))["hazardId"]
    response = await client.post(
        f"/hazards/{hazard_id}/confirmations", json={"stillThere": True}, headers=reporter.auth
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("own-report-confirmation")
    assert await count(client, "hazard_confirmation") == 0


async def test_confirmation_limits(client: Client, register: Register) -> None:
    user = await register(consents=REPORTING)
    closed = await make_hazard(client, status="resolved")
    unknown = "00000000-0000-4000-8000-000000000000"
    payload = {"stillThere": True}
    refused = await client.post(f"/hazards/{closed}/confirmations", json=payload, headers=user.auth)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("hazard-closed") and refused.json()["hazardStatus"] == "resolved"
    assert (
        await client.post(f"/hazards/{unknown}/confirmations", json=payload, headers=user.auth)
    ).status_code == 404
    no_consent = await register()
    assert (
        await client.post(f"/hazards/{closed}/confirmations", json=payload, headers=no_consent.auth)
    ).status_code == 403
    assert (await client.post(f"/hazards/{closed}/confirmations", json=payload)).status_code == 401
    assert (
        await client.post(f"/hazards/{closed}/confirmations", json={"stillThere": "yes"}, headers=user.auth)
    ).status_code == 400
    assert await count(client, "hazard_confirmation") == 0


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
async def test_every_transition_is_allowed_or_409(
    client: Client, current: HazardStatus, target: HazardStatus
) -> None:
    planner = await staff(client)
    hazard_id = await make_hazard(client)
    for step in PATH_TO[current]:
        moved = await client.patch(f"/hazards/{hazard_id}", json={"status": step}, headers=planner.auth)
        assert moved.status_code == 200, moved.text
    history_before = await count(client, "hazard_status_change")
    response = await client.patch(
        f"/hazards/{hazard_id}", json={"status": target.value, "publicNote": "checked"}, headers=planner.auth
    )
    if target in ALLOWED_TRANSITIONS[current]:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target.value
        assert await count(client, "hazard_status_change") == history_before + 1
    else:
        assert response.status_code == 409
        problem = response.json()
        assert problem["type"].endswith("invalid-status-transition")
        assert (problem["currentStatus"], problem["requestedStatus"]) == (current.value, target.value)
        assert await count(client, "hazard_status_change") == history_before
        assert (await client.get(f"/hazards/{hazard_id}")).json()["status"] == current.value


async def test_only_planners_and_admins_triage(client: Client, register: Register) -> None:
    hazard_id = await make_hazard(client)
    url = f"/hazards/{hazard_id}"
    citizen = await register(consents=REPORTING)
    teacher = await staff(client, Role.TEACHER)
    assert (await client.patch(url, json={"status": "acknowledged"})).status_code == 401
    for account in (citizen, teacher):
        refused = await client.patch(url, json={"status": "acknowledged"}, headers=account.auth)
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("role-required")
    assert (await client.get(url)).json()["status"] == "open"
    admin = await staff(client, Role.ADMIN)
    assert (await client.patch(url, json={"status": "acknowledged"}, headers=admin.auth)).status_code == 200


async def test_the_status_history_says_when_and_which_role_not_who(client: Client) -> None:
    planner = await staff(client)
    hazard_id = await make_hazard(client)
    url = f"/hazards/{hazard_id}"
    await client.patch(
        url, json={"status": "acknowledged", "publicNote": "We will look."}, headers=planner.auth
    )
    done = await client.patch(
        url, json={"status": "resolved", "publicNote": "Repaved."}, headers=planner.auth
    )
    detail = done.json()
    assert detail["publicNote"] == "Repaved."
    assert [(h["fromStatus"], h["toStatus"], h["changedByRole"]) for h in detail["history"]] == [
        ("open", "acknowledged", "planner"),
        ("acknowledged", "resolved", "planner"),
    ]
    assert detail["history"][0]["publicNote"] == "We will look."
    assert detail["history"][0]["changedAt"] <= detail["history"][1]["changedAt"]
    public = await client.get(url)
    assert public.json()["history"] == detail["history"]
    assert planner.id not in public.text and planner.handle not in public.text


async def test_a_note_only_edit_adds_no_history_line(client: Client) -> None:
    planner = await staff(client)
    hazard_id = await make_hazard(client, status="planned")
    response = await client.patch(
        f"/hazards/{hazard_id}", json={"publicNote": "Works start in March."}, headers=planner.auth
    )
    assert response.status_code == 200
    assert response.json()["publicNote"] == "Works start in March."
    assert response.json()["status"] == "planned" and response.json()["history"] == []


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({}, 422),
        ({"status": "fixed"}, 400),
        ({"status": "resolved", "publicNote": "x" * 2001}, 400),
        ({"status": "resolved", "assignee": "bob"}, 400),
    ],
    ids=["empty", "unknown status", "note too long", "unknown field"],
)
async def test_bad_triage_requests_change_nothing(
    client: Client, payload: dict[str, str], status: int
) -> None:
    planner = await staff(client)
    hazard_id = await make_hazard(client)
    response = await client.patch(f"/hazards/{hazard_id}", json=payload, headers=planner.auth)
    assert response.status_code == status, response.text
    assert (await client.get(f"/hazards/{hazard_id}")).json()["status"] == "open"
    assert await count(client, "hazard_status_change") == 0


async def test_triaging_an_unknown_hazard_is_404(client: Client) -> None:
    planner = await staff(client)
    unknown = "00000000-0000-4000-8000-000000000000"
    response = await client.patch(f"/hazards/{unknown}", json={"status": "resolved"}, headers=planner.auth)
    assert response.status_code == 404


async def test_a_report_after_resolution_starts_a_new_hazard(client: Client, register: Register) -> None:
    planner = await staff(client)
    first = (await filed(client, await register(consents=REPORTING)))["hazardId"]
    await client.patch(f"/hazards/{first}", json={"status": "resolved"}, headers=planner.auth)
    second = (await filed(client, await register(consents=REPORTING), body()))["hazardId"]
    assert second != first
    assert (await filed(client, await register(consents=REPORTING), body(*far(3))))["hazardId"] != second


async def test_erasing_a_user_removes_their_share_of_the_counts(client: Client, register: Register) -> None:
    import uuid

    from domain.hazards.service import erase_contributions

    alone = (await filed(client, first := await register(consents=REPORTING), body(*far(7))))["hazardId"]
    shared = (await filed(client, first))["hazardId"]
    await filed(client, await register(consents=REPORTING))
    await client.post(f"/hazards/{alone}/confirmations", json={"stillThere": True},
                      headers=(await register(consents=REPORTING)).auth)  # fmt: skip
    async with client.app.state.sessionmaker() as session:
        await erase_contributions(session, uuid.UUID(first.id), now=session_clock())
        await session.commit()
    assert (await client.get(f"/hazards/{alone}")).status_code == 404, "no report left: the hazard goes"
    assert (await client.get(f"/hazards/{shared}")).json()["reportCount"] == 1
    assert await count(client, "hazard_confirmation") == 0
