"""Filing hazard reports: categories, clustering, consent, bad inputs, idempotency, caps, concurrency."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import h3
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.hazards.rules import DAILY_REPORT_CAP
from tests.clock import session_clock
from tests.integration.conftest import Account, Register
from tests.integration.hazard_helpers import HERE, REPORTING, Client, body, count, far, filed, report

TABLES = ("hazard", "hazard_report", "idempotency_record")


async def _counts(client: Client) -> tuple[int, ...]:
    return tuple([await count(client, t) for t in TABLES])


async def test_categories_come_with_labels_in_three_languages_and_their_mappings(client: Client) -> None:
    response = await client.get("/hazard-categories")
    assert response.status_code == 200
    data = response.json()
    codes = [c["code"] for c in data["categories"]]
    assert codes[0] == "dangerous_crossing" and "road_surface" in codes and codes[-1] == "other"
    pothole = next(c for c in data["categories"] if c["code"] == "road_surface")
    assert pothole["label"] == {
        "nl": "Slecht wegdek / put in de weg",
        "fr": "Revêtement dégradé / nid-de-poule",
        "en": "Poor road surface / pothole",
    }
    assert pothole["sdmCategory"] == "traffic" and pothole["sdmSubCategory"] == "pothole"
    assert pothole["open311ServiceCode"] == "road_surface"
    assert [s["value"] for s in data["severities"]] == [1, 2, 3]
    assert all(set(s["label"]) == {"nl", "fr", "en"} for s in data["severities"])


async def test_two_nearby_reports_become_one_hazard(client: Client, register: Register) -> None:
    first = await filed(client, await register(consents=REPORTING))
    second = await filed(
        client, await register(consents=REPORTING), body(HERE[0] + 0.00004, HERE[1] + 0.00004)
    )
    assert first["hazardId"] == second["hazardId"]
    assert first["joinedExisting"] is False and second["joinedExisting"] is True
    assert second["status"] == "open"
    hazard = (await client.get(f"/hazards/{first['hazardId']}")).json()
    assert hazard["reportCount"] == 2
    assert await count(client, "hazard") == 1


async def test_a_far_report_becomes_a_second_hazard(client: Client, register: Register) -> None:
    account = await register(consents=REPORTING)
    first = await filed(client, account)
    second = await filed(client, account, body(*far(1)))
    assert first["hazardId"] != second["hazardId"]
    assert await count(client, "hazard") == 2


async def test_reports_either_side_of_a_cell_edge_join_within_30_m(
    client: Client, register: Register
) -> None:
    cell = h3.latlng_to_cell(*HERE, 10)
    neighbour = sorted(h3.grid_ring(cell, 1))[0]
    (alat, alon), (blat, blon) = h3.cell_to_latlng(cell), h3.cell_to_latlng(neighbour)
    edge = ((alat + blat) / 2, (alon + blon) / 2)
    near_a = (edge[0] + (alat - edge[0]) * 0.1, edge[1] + (alon - edge[1]) * 0.1)
    near_b = (edge[0] + (blat - edge[0]) * 0.1, edge[1] + (blon - edge[1]) * 0.1)
    assert h3.latlng_to_cell(*near_a, 10) != h3.latlng_to_cell(*near_b, 10)
    first = await filed(client, await register(consents=REPORTING), body(*near_a))
    second = await filed(client, await register(consents=REPORTING), body(*near_b))
    assert first["hazardId"] == second["hazardId"]
    third = await filed(client, await register(consents=REPORTING), body(blat, blon))
    assert third["hazardId"] != first["hazardId"], "a neighbour cell's centre is ~130 m away: a new hazard"


async def test_another_category_at_the_same_spot_is_another_hazard(
    client: Client, register: Register
) -> None:
    account = await register(consents=REPORTING)
    pothole = await filed(client, account)
    crossing = await filed(client, account, body(category="dangerous_crossing"))
    assert pothole["hazardId"] != crossing["hazardId"]


async def test_severity_is_the_upper_median_of_the_reports(client: Client, register: Register) -> None:
    hazard_id = (await filed(client, await register(consents=REPORTING), body(severity=1)))["hazardId"]
    await filed(client, await register(consents=REPORTING), body(severity=3))
    assert (await client.get(f"/hazards/{hazard_id}")).json()["severity"] == 3
    await filed(client, await register(consents=REPORTING), body(severity=1))
    assert (await client.get(f"/hazards/{hazard_id}")).json()["severity"] == 1


async def test_reporting_without_consent_is_403_naming_the_purpose(
    client: Client, register: Register
) -> None:
    account = await register(consents=("ride_tracking",))
    response = await report(client, account)
    assert response.status_code == 403
    problem = response.json()
    assert problem["type"].endswith("consent-required") and problem["purpose"] == "hazard_reporting"
    assert await _counts(client) == (0, 0, 0)


async def test_a_child_without_guardian_consent_cannot_report(client: Client, register: Register) -> None:
    child = await register(birthYear=session_clock().year - 9, consents=REPORTING)
    response = await report(client, child)
    assert response.status_code == 403
    assert response.json()["guardianConsentRequired"] is True


async def test_reporting_anonymously_is_401(client: Client) -> None:
    response = await client.post("/hazards", json=body(), headers={"Idempotency-Key": "anonymous-1"})
    assert response.status_code == 401


BAD_INPUTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("lat too high", body(lat=90.5), 400, "lat"),
    ("lat too low", body(lat=-91), 400, "lat"),
    ("lon out of range", body(lon=180.01), 400, "lon"),
    ("lat not a number", body(lat="north"), 400, "lat"),
    ("unknown category", body(category="dragons"), 400, "category"),
    ("severity 0", body(severity=0), 400, "severity"),
    ("severity 4", body(severity=4), 400, "severity"),
    ("severity true", body(severity=True), 400, "severity"),
    ("oversized description", body(description="x" * 1001), 400, "description"),
    ("huge description", body(description="x" * 9000), 400, "description"),
    ("unknown field", body(reporterName="Emma"), 400, "reporterName"),
    ("missing severity", {"lat": HERE[0], "lon": HERE[1], "category": "road_surface"}, 400, "severity"),
    (
        "observedAt in the future",
        body(observedAt=(session_clock() + timedelta(hours=2)).isoformat()),
        422,
        "observedAt",
    ),
    ("observedAt without zone", body(observedAt="2026-01-01T10:00:00"), 400, "observedAt"),
]


@pytest.mark.parametrize(
    ("payload", "status", "field"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
async def test_bad_inputs_are_refused_and_nothing_is_stored(
    client: Client, register: Register, payload: dict[str, Any], status: int, field: str
) -> None:
    account = await register(consents=REPORTING)
    response = await report(client, account, payload)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await _counts(client) == (0, 0, 0)


@pytest.mark.parametrize("lat", [b"NaN", b"Infinity", b"1e400", b"-1e400"])
async def test_non_finite_coordinates_are_refused(client: Client, register: Register, lat: bytes) -> None:
    account = await register(consents=REPORTING)
    raw = b'{"lat": ' + lat + b', "lon": 4.47, "category": "road_surface", "severity": 2}'
    headers = {**account.auth, "Idempotency-Key": "nan-key-0001", "Content-Type": "application/json"}
    response = await client.post("/hazards", content=raw, headers=headers)
    assert response.status_code == 400
    assert await _counts(client) == (0, 0, 0)


async def test_an_idempotency_key_is_required_and_checked(client: Client, register: Register) -> None:
    account = await register(consents=REPORTING)
    missing = await client.post("/hazards", json=body(), headers=account.auth)
    short = await report(client, account, key="short")
    assert missing.status_code == short.status_code == 422
    assert missing.json()["type"].endswith("idempotency-key-missing")
    assert await _counts(client) == (0, 0, 0)


async def test_a_replay_returns_the_same_answer_and_files_nothing(client: Client, register: Register) -> None:
    account = await register(consents=REPORTING)
    first = await report(client, account, key="replay-key-1")
    again = await report(client, account, key="replay-key-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await _counts(client) == (1, 1, 1)


async def test_the_same_key_with_another_body_is_422(client: Client, register: Register) -> None:
    account = await register(consents=REPORTING)
    assert (await report(client, account, key="reused-key-1")).status_code == 201
    other = await report(client, account, body(severity=3), key="reused-key-1")
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert await _counts(client) == (1, 1, 1)


async def test_the_daily_cap_is_429_and_stores_nothing(client: Client, register: Register) -> None:
    account = await register(consents=REPORTING)
    for step in range(DAILY_REPORT_CAP):
        await filed(client, account, body(*far(step)))
    refused = await report(client, account, body(*far(99)))
    assert refused.status_code == 429
    assert refused.json()["type"].endswith("hazard-report-cap")
    assert 0 < int(refused.headers["retry-after"]) <= 24 * 3600
    assert await count(client, "hazard_report") == DAILY_REPORT_CAP
    assert (await filed(client, await register(consents=REPORTING)))["hazardId"], "others are not capped"


async def test_the_per_minute_limit_is_per_user(clean_db: AsyncEngine, make_app: Any) -> None:
    async with AsyncTestClient(app=make_app(rate_limit_per_minute=2)) as limited:
        account = await _account(limited, "limited")
        codes = [(await report(limited, account, body(*far(i)))).status_code for i in range(3)]
        assert codes == [201, 201, 429]


async def _account(client: Client, handle: str) -> Account:
    registered = (
        await client.post("/auth/register", json={"handle": handle, "password": "long password"})
    ).json()
    account = Account(registered["user"]["id"], handle, registered["accessToken"], registered["refreshToken"])
    granted = {"granted": True, "policyVersion": "2026-01"}
    assert (
        await client.put("/me/consents/hazard_reporting", json=granted, headers=account.auth)
    ).status_code == 200
    return account


async def test_simultaneous_reports_of_one_spot_make_one_hazard(client: Client, register: Register) -> None:
    accounts = [await register(consents=REPORTING) for _ in range(6)]
    offsets = [(HERE[0] + i * 0.00002, HERE[1] - i * 0.00002) for i in range(6)]
    responses = await asyncio.gather(
        *(report(client, a, body(*o)) for a, o in zip(accounts, offsets, strict=True))
    )
    assert [r.status_code for r in responses] == [201] * 6
    assert len({r.json()["hazardId"] for r in responses}) == 1
    hazard = (await client.get(f"/hazards/{responses[0].json()['hazardId']}")).json()
    assert hazard["reportCount"] == 6


async def test_descriptions_are_cleaned_and_only_planners_read_them(
    client: Client, register: Register
) -> None:
    from domain.core.enums import Role
    from tests.integration.hazard_helpers import staff

    account = await register(consents=REPORTING)
    text = "I am Emma from class 3B,\t the hole\u202e is  deep\r\n\r\n\r\nplease fix"
    hazard_id = (await filed(client, account, body(description=text)))["hazardId"]
    public = await client.get(f"/hazards/{hazard_id}")
    listing = await client.get("/hazards")
    for response in (public, listing):
        assert "Emma" not in response.text and account.id not in response.text
    planner = await staff(client, Role.PLANNER)
    reports = await client.get(f"/hazards/{hazard_id}/reports", headers=planner.auth)
    assert reports.status_code == 200
    [only] = reports.json()
    assert only["description"] == "I am Emma from class 3B, the hole is deep\n\nplease fix"
    assert account.id not in reports.text and "userId" not in only and "id" not in only
    assert (await client.get(f"/hazards/{hazard_id}/reports", headers=account.auth)).status_code == 403
