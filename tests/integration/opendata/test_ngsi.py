"""The NGSI-LD open-data API: hazards as Alerts, k-anonymous cell statistics, representations, errors."""

from __future__ import annotations

import h3
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Register
from tests.integration.hazard_helpers import REPORTING, body, filed, staff
from tests.integration.planner_helpers import CELL, CROWD, LAST_MONTH, NOISE, TODAY, Seed

Client = AsyncTestClient[Litestar]
ENTITIES = "/ngsi-ld/v1/entities"


async def test_hazards_are_listed_as_sdm_alerts_with_a_context_link(
    client: Client, register: Register
) -> None:
    citizen = await register(consents=REPORTING)
    receipt = await filed(
        client, citizen, body(category="dangerous_crossing", description="my neighbour Jan")
    )

    response = await client.get(ENTITIES, params={"type": "Alert", "options": "keyValues"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert 'rel="http://www.w3.org/ns/json-ld#context"' in response.headers["link"]
    [alert] = response.json()
    assert alert["id"] == f"urn:ngsi-ld:Alert:{receipt['hazardId']}"
    assert alert["category"] == "traffic" and alert["subCategory"] == "hazardOnRoad"
    assert alert["data"]["hazardCategory"] == "dangerous_crossing"
    assert "Jan" not in response.text


async def test_normalized_json_ld_carries_the_context_in_the_body(client: Client, register: Register) -> None:
    citizen = await register(consents=REPORTING)
    receipt = await filed(client, citizen)

    response = await client.get(
        f"{ENTITIES}/urn:ngsi-ld:Alert:{receipt['hazardId']}", headers={"Accept": "application/ld+json"}
    )

    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["@context"].endswith("/ngsi-ld/contexts/saferoutes.jsonld")
    assert entity["severity"] == {"type": "Property", "value": "medium"}
    assert entity["location"]["type"] == "GeoProperty"
    context = await client.get("/ngsi-ld/contexts/saferoutes.jsonld")
    assert "SafeRoutesCellStatistic" in context.text


async def test_geojson_representation_is_a_feature_collection_in_lon_lat(
    client: Client, register: Register
) -> None:
    citizen = await register(consents=REPORTING)
    await filed(client, citizen, body(lat=51.0259, lon=4.4776))

    response = await client.get(
        ENTITIES, params={"type": "Alert", "options": "keyValues"}, headers={"Accept": "application/geo+json"}
    )

    assert response.headers["content-type"].startswith("application/geo+json")
    collection = response.json()
    assert collection["type"] == "FeatureCollection"
    [feature] = collection["features"]
    lon, lat = feature["geometry"]["coordinates"]
    assert abs(lon - 4.4776) < 1e-3 and abs(lat - 51.0259) < 1e-3
    assert feature["properties"]["type"] == "Alert"


async def test_pagination_with_limit_offset_and_a_count_header(client: Client, register: Register) -> None:
    citizen = await register(consents=REPORTING)
    for category in ("speeding", "road_surface", "construction"):
        await filed(client, citizen, body(category=category))

    first = await client.get(ENTITIES, params={"type": "Alert", "limit": 2, "count": "true"})
    second = await client.get(ENTITIES, params={"type": "Alert", "limit": 2, "offset": 2})

    assert first.headers["NGSILD-Results-Count"] == "3"
    ids = [e["id"] for e in first.json()] + [e["id"] for e in second.json()]
    assert len(ids) == 3 == len(set(ids))


async def test_rejected_hazards_leave_the_open_data(client: Client, register: Register) -> None:
    citizen = await register(consents=REPORTING)
    receipt = await filed(client, citizen)
    planner = await staff(client)
    rejected = await client.patch(
        f"/hazards/{receipt['hazardId']}", json={"status": "rejected"}, headers=planner.auth
    )
    assert rejected.status_code == 200

    listed = await client.get(ENTITIES, params={"type": "Alert"})
    one = await client.get(f"{ENTITIES}/urn:ngsi-ld:Alert:{receipt['hazardId']}")

    assert listed.json() == []
    assert one.status_code == 404
    assert one.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_cell_statistics_are_the_last_whole_months_release_of_consented_people(
    client: Client, clean_db: AsyncEngine
) -> None:
    seed = Seed(clean_db)
    crowded = h3.cell_to_parent(CELL, 9)
    for _ in range(CROWD):
        await seed.exposure(await seed.user(), [CELL], rides=2, day=LAST_MONTH)
    quiet = h3.latlng_to_cell(51.040, 4.500, 10)
    for _ in range(3):
        await seed.exposure(await seed.user(), [quiet], day=LAST_MONTH)
    for _ in range(CROWD):
        await seed.exposure(await seed.user(research=None), [quiet], day=LAST_MONTH)
    for _ in range(CROWD):
        await seed.exposure(await seed.user(), [quiet], day=TODAY)  # this month is not over

    response = await client.get(ENTITIES, params={"type": "SafeRoutesCellStatistic", "options": "keyValues"})

    [cell] = response.json()
    assert cell["id"] == f"urn:ngsi-ld:SafeRoutesCellStatistic:{crowded}"
    assert abs(cell["contributors"] - CROWD) <= NOISE and "kAnonymity" not in cell
    assert 0 < cell["privacyEpsilon"] <= 10 and cell["privacyDelta"] == 1e-6
    assert cell["dateObservedFrom"].endswith("-01T00:00:00Z")
    assert cell["h3Resolution"] == 9
    one = await client.get(f"{ENTITIES}/{cell['id']}", params={"options": "keyValues"})
    assert one.json() == cell
    hidden = await client.get(f"{ENTITIES}/urn:ngsi-ld:SafeRoutesCellStatistic:{h3.cell_to_parent(quiet, 9)}")
    assert hidden.status_code == 404


async def test_bad_requests_are_ngsi_ld_errors(client: Client) -> None:
    no_type = await client.get(ENTITIES)
    query = await client.get(ENTITIES, params={"type": "Alert", "q": "severity==high"})
    stranger = await client.get(f"{ENTITIES}/urn:ngsi-ld:Vehicle:1")

    assert no_type.status_code == 400
    assert no_type.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert query.status_code == 400
    assert "not supported" in query.json()["detail"]
    assert stranger.status_code == 404, "an id this service never gave out names nothing here"
    assert stranger.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_an_offset_past_any_city_is_refused_not_a_crash(client: Client) -> None:
    huge = await client.get(ENTITIES, params={"type": "Alert", "offset": str(2**64)})
    assert huge.status_code == 400
    assert huge.json()["errors"][0]["field"] == "offset"
