"""Public reads: filters, bbox validation, stable pagination, 404s, and no reporter in any answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.hazard_helpers import HERE, REPORTING, Client, body, far, filed, make_hazard

BOX = f"{HERE[1] - 0.01},{HERE[0] - 0.01},{HERE[1] + 0.01},{HERE[0] + 0.01}"


async def test_the_public_read_hides_who_reported(client: Client, register: Register) -> None:
    reporter = await register("Reporter.Kid", consents=REPORTING, nickname="Kid Nick")
    receipt = await filed(client, reporter, body(description="my name is Lotte"))
    confirmer = await register("Confirmer", consents=REPORTING)
    await client.post(
        f"/hazards/{receipt['hazardId']}/confirmations", json={"stillThere": True}, headers=confirmer.auth
    )
    for response in (await client.get("/hazards"), await client.get(f"/hazards/{receipt['hazardId']}")):
        assert response.status_code == 200
        for secret in (reporter.id, reporter.handle, "Kid Nick", confirmer.id, receipt["reportId"], "Lotte"):
            assert secret not in response.text
    item = (await client.get("/hazards")).json()["items"][0]
    assert set(item) == {
        "id", "category", "categoryLabel", "severity", "status", "lat", "lon", "cell", "reportCount",
        "confirmationCount", "disputeCount", "lastConfirmedAt", "publicNote", "createdAt", "updatedAt",
    }  # fmt: skip
    assert (item["lat"], item["lon"]) == (round(HERE[0], 5), round(HERE[1], 5))
    detail = (await client.get(f"/hazards/{receipt['hazardId']}")).json()
    for times in (item, detail):
        for name in ("createdAt", "updatedAt", "lastConfirmedAt"):
            assert times[name].endswith(":00:00Z"), f"{name} is public: floored to the hour"


async def test_filters_by_bbox_category_and_status(client: Client) -> None:
    inside = await make_hazard(client)
    crossing = await make_hazard(client, category="dangerous_crossing")
    resolved = await make_hazard(client, status="resolved", lat=HERE[0] + 0.001)
    outside = await make_hazard(client, lat=far(5)[0])

    async def ids(**params: str) -> set[str]:
        response = await client.get("/hazards", params=params)
        assert response.status_code == 200, response.text
        return {h["id"] for h in response.json()["items"]}

    assert await ids() == {inside, crossing, resolved, outside}
    assert await ids(bbox=BOX) == {inside, crossing, resolved}
    assert await ids(bbox=BOX, category="road_surface") == {inside, resolved}
    assert await ids(bbox=BOX, category="road_surface", status="open") == {inside}
    assert await ids(status="resolved") == {resolved}


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({"bbox": "4.4,51.0,4.5"}, "bbox", 400),
        ({"bbox": "4.4,51.0,4.5,abc"}, "bbox", 400),
        ({"bbox": "4.4,51.0,4.5,nan"}, "bbox", 400),
        ({"bbox": "4.5,51.0,4.4,51.1"}, "bbox", 422),
        ({"bbox": "4.4,51.0,4.5,91"}, "bbox", 422),
        ({"bbox": "-10,40,10,60"}, "bbox", 422),
        ({"category": "dragons"}, "category", 400),
        ({"status": "fixed"}, "status", 400),
        ({"cursor": "not-a-cursor"}, "cursor", 400),
        ({"cursor": "1" * 18 + "_" + "0" * 32}, "cursor", 400),
    ],
)
async def test_bad_filters_are_refused_naming_the_parameter(
    client: Client, params: dict[str, str], field: str, status: int
) -> None:
    """Not of the form the document states: 400; of that form but breaking a rule: 422."""
    response = await client.get("/hazards", params=params)
    assert response.status_code == status
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_pages_are_stable_without_duplicates_or_gaps(client: Client) -> None:
    same_moment = session_clock() - timedelta(hours=1)
    created = {await make_hazard(client, lat=far(i)[0], created_at=same_moment) for i in range(5)}
    created |= {await make_hazard(client, lat=far(10 + i)[0]) for i in range(2)}
    seen: list[str] = []
    cursor = None
    extra = 30
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/hazards", params=params)).json()
        seen += [h["id"] for h in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        extra += 1
        await make_hazard(client, lat=far(extra)[0])  # newer rows do not shift the pages
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == created
    dates = [h["createdAt"] for h in (await client.get("/hazards", params={"limit": "200"})).json()["items"]]
    assert dates == sorted(dates, reverse=True)


async def test_unknown_hazards_are_404(client: Client) -> None:
    response = await client.get("/hazards/00000000-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert response.json()["type"].endswith("hazard-not-found")
    assert (await client.get("/hazards/not-a-uuid")).status_code in (400, 404)
