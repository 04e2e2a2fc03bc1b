"""Open311 GeoReport v2: services, requests (list and one), and filing the GeoReport way."""

from __future__ import annotations

from datetime import timedelta

from domain.hazards.rules import HazardCategory
from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.hazard_helpers import (
    HERE,
    REPORTING,
    Client,
    body,
    count,
    far,
    filed,
    make_hazard,
    staff,
)

SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip
FORM = {"service_code": "road_surface", "lat": str(HERE[0]), "long": str(HERE[1]), "description": "Deep hole"}


async def test_services_list_one_service_per_category(client: Client) -> None:
    response = await client.get("/open311/v2/services.json")
    assert response.status_code == 200
    services = response.json()
    assert [s["service_code"] for s in services] == [c.value for c in HazardCategory]
    for service in services:
        assert set(service) == SERVICE_FIELDS
        assert service["metadata"] is False and service["type"] == "realtime"
    pothole = next(s for s in services if s["service_code"] == "road_surface")
    assert pothole["service_name"] == "Poor road surface / pothole" and pothole["group"] == "maintenance"
    dutch = (await client.get("/open311/v2/services.json", params={"lang": "nl"})).json()
    assert dutch[5]["service_name"] == "Slecht wegdek / put in de weg"


async def test_requests_carry_the_georeport_fields_and_statuses(client: Client, register: Register) -> None:
    receipt = await filed(client, await register(consents=REPORTING), body(description="Lotte fell here"))
    planner = await staff(client)
    closed = await make_hazard(client, lat=far(2)[0], category="speeding")
    await client.patch(
        f"/hazards/{closed}", json={"status": "rejected", "publicNote": "Duplicate."}, headers=planner.auth
    )
    response = await client.get("/open311/v2/requests.json")
    assert response.status_code == 200
    requests = {r["service_request_id"]: r for r in response.json()}
    assert set(requests) == {receipt["hazardId"], closed}
    for request in requests.values():
        assert set(request) == REQUEST_FIELDS
    open_one, rejected = requests[receipt["hazardId"]], requests[closed]
    assert open_one["status"] == "open" and rejected["status"] == "closed"
    assert rejected["status_notes"] == "Duplicate."
    assert (open_one["lat"], open_one["long"]) == (round(HERE[0], 5), round(HERE[1], 5))
    assert open_one["service_code"] == "road_surface" and "Lotte" not in response.text
    assert open_one["requested_datetime"].endswith(":00:00Z") and open_one["updated_datetime"].endswith(
        ":00:00Z"
    )


async def test_requests_filter_by_service_code_status_and_dates(client: Client) -> None:
    pothole = await make_hazard(client)
    crossing = await make_hazard(client, category="dangerous_crossing", status="planned")
    old = await make_hazard(client, lat=far(4)[0], created_at=session_clock() - timedelta(days=200))

    async def ids(**params: str) -> set[str]:
        response = await client.get("/open311/v2/requests.json", params=params)
        assert response.status_code == 200, response.text
        return {r["service_request_id"] for r in response.json()}

    assert await ids() == {pothole, crossing}, "the default window is the last 90 days"
    assert await ids(service_code="dangerous_crossing") == {crossing}
    assert await ids(service_code="road_surface,dangerous_crossing", status="open") == {pothole, crossing}
    assert await ids(status="closed") == set()
    start = (session_clock() - timedelta(days=365)).isoformat()
    assert await ids(start_date=start) == {pothole, crossing, old}
    assert await ids(start_date=start, end_date=(session_clock() - timedelta(days=100)).isoformat()) == {old}
    assert await ids(service_request_id=f"{old},{pothole}") == {old, pothole}
    assert (await client.get("/open311/v2/requests.json", params={"status": "pending"})).status_code == 400
    assert (await client.get("/open311/v2/requests.json", params={"service_code": "x"})).status_code == 400


async def test_one_request_is_a_one_element_list(client: Client) -> None:
    hazard_id = await make_hazard(client)
    response = await client.get(f"/open311/v2/requests/{hazard_id}.json")
    assert response.status_code == 200
    [request] = response.json()
    assert request["service_request_id"] == hazard_id and set(request) == REQUEST_FIELDS
    assert (
        await client.get("/open311/v2/requests/00000000-0000-4000-8000-000000000000.json")
    ).status_code == 404
    assert (await client.get(f"/open311/v2/requests/{hazard_id}.xml")).status_code == 404
    assert (await client.get("/open311/v2/requests/nonsense.json")).status_code == 404


async def test_filing_form_encoded_returns_the_service_request(client: Client, register: Register) -> None:
    account = await register(consents=REPORTING)
    personal = {**FORM, "email": "kid@example.org", "first_name": "Lotte", "phone": "0470"}
    response = await client.post("/open311/v2/requests.json", data=personal, headers=account.auth)
    assert response.status_code == 201, response.text
    [created] = response.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    assert created["account_id"] is None
    hazard = (await client.get(f"/hazards/{created['service_request_id']}")).json()
    assert hazard["category"] == "road_surface" and hazard["severity"] == 2
    as_json = {**FORM, "lat": HERE[0], "long": HERE[1]}  # JSON numbers are numbers, as everywhere
    again = await client.post(
        "/open311/v2/requests.json", json=as_json, headers=(await register(consents=REPORTING)).auth
    )
    assert again.status_code == 201
    assert again.json()[0]["service_request_id"] == created["service_request_id"], "clustered, JSON works too"


async def test_filing_needs_a_token_consent_and_valid_fields(client: Client, register: Register) -> None:
    assert (await client.post("/open311/v2/requests.json", data=FORM)).status_code == 401
    no_consent = await register()
    assert (
        await client.post("/open311/v2/requests.json", data=FORM, headers=no_consent.auth)
    ).status_code == 403
    account = await register(consents=REPORTING)
    for bad, status in (
        ({**FORM, "service_code": "dragons"}, 422),
        ({**FORM, "lat": "95"}, 400),
        ({k: v for k, v in FORM.items() if k != "long"}, 400),
        ({**FORM, "description": "x" * 1001}, 400),
    ):
        response = await client.post("/open311/v2/requests.json", data=bad, headers=account.auth)
        assert response.status_code == status, (bad, response.text)
    assert await count(client, "hazard_report") == 0


async def test_filing_is_strict_in_json_and_in_forms(client: Client, register: Register) -> None:
    account = await register(consents=REPORTING)
    form = "service_code=road_surface&lat=51.02&long=4.47&lat=50.0"
    for content, media in (
        (form, "application/x-www-form-urlencoded"),
        ('{"service_code": "road_surface", "lat": "51.02", "long": 4.47}', "application/json"),
        ('{"service_code": "road_surface", "lat": 51.02, "long": 4.47, "lat": 50.0}', "application/json"),
        (
            "service_code=road_surface&lat=51.02&long=4.47&description=a%00b",
            "application/x-www-form-urlencoded",
        ),
    ):
        response = await client.post(
            "/open311/v2/requests.json", content=content, headers={**account.auth, "Content-Type": media}
        )
        assert response.status_code == 400, (content, response.text)
    odd = await client.post(
        "/open311/v2/requests.json", content="<x/>", headers={**account.auth, "Content-Type": "text/xml"}
    )
    assert odd.status_code == 415
    assert await count(client, "hazard_report") == 0
