"""Hazards and cell statistics as NGSI-LD entities validate against the Smart Data Models' JSON schemas.

The schemas are local copies (tests/data/sdm, see its README); ``$ref``s between
them resolve by their published ``$id``, never over the network.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3
import pytest
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource

from domain.hazards.categories import CATEGORIES, SDM_TRAFFIC_SUB_CATEGORIES
from domain.hazards.rules import PUBLISHED_STATUSES, HazardCategory, HazardStatus
from domain.opendata import rules as ngsi

SDM = Path(__file__).resolve().parents[3] / "data" / "sdm"
CREATED = datetime(2026, 3, 2, 7, 45, 12, tzinfo=UTC)
UPDATED = datetime(2026, 3, 9, 16, 5, 0, tzinfo=UTC)
SOURCE = "urn:ngsi-ld:SafeRoutes:citizen-reports"

formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    return not isinstance(value, str) or (
        value.endswith("Z") and datetime.fromisoformat(value).tzinfo is not None and "T" in value
    )


@formats.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    return not isinstance(value, str) or (":" in value and " " not in value)


def _validator(name: str) -> Draft7Validator:
    documents = [json.loads(p.read_text()) for p in SDM.glob("*.json")]
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in documents
    )
    schema = json.loads((SDM / name).read_text())
    return Draft7Validator(schema, registry=registry, format_checker=formats)


def _errors(validator: Draft7Validator, entity: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(entity)]


def _hazard(
    category: HazardCategory, status: HazardStatus = HazardStatus.OPEN, **changes: Any
) -> ngsi.PublicHazard:
    fields: dict[str, Any] = {
        "id": uuid.UUID(int=42),
        "category": category.value,
        "lat": 51.02591,
        "lon": 4.47762,
        "status": status.value,
        "severity": 2,
        "report_count": 3,
        "confirmation_count": 2,
        "dispute_count": 0,
        "public_note": None,
        "created_at": CREATED,
        "updated_at": UPDATED,
    }
    return ngsi.PublicHazard(**(fields | changes))


@pytest.fixture(scope="module")
def alert_schema() -> Draft7Validator:
    return _validator("Alert.schema.json")


@pytest.fixture(scope="module")
def cell_schema() -> Draft7Validator:
    return _validator("SafeRoutesCellStatistic.schema.json")


@pytest.mark.parametrize("category", list(HazardCategory))
def test_every_hazard_category_is_a_valid_traffic_alert(
    alert_schema: Draft7Validator, category: HazardCategory
) -> None:
    entity = ngsi.alert(_hazard(category), source=SOURCE)

    assert _errors(alert_schema, entity) == []
    assert entity["category"] == "traffic"
    assert entity["subCategory"] == CATEGORIES[category].sdm_sub_category
    assert entity["subCategory"] in SDM_TRAFFIC_SUB_CATEGORIES
    assert entity["data"]["hazardCategory"] == category.value


@pytest.mark.parametrize("severity", [1, 2, 3])
@pytest.mark.parametrize("status", sorted(PUBLISHED_STATUSES))
def test_alerts_of_every_severity_and_published_status_validate(
    alert_schema: Draft7Validator, severity: int, status: HazardStatus
) -> None:
    hazard = _hazard(
        HazardCategory.ROAD_SURFACE, status, severity=severity, public_note="Repair planned in May."
    )
    entity = ngsi.alert(hazard, source="https://data.mechelen.be/saferoutes")

    assert _errors(alert_schema, entity) == []
    assert entity["severity"] == {1: "low", 2: "medium", 3: "high"}[severity]
    assert ("validTo" in entity) == (status is HazardStatus.RESOLVED)


def test_the_schema_check_is_real_it_refuses_a_broken_alert(alert_schema: Draft7Validator) -> None:
    entity = ngsi.alert(_hazard(HazardCategory.SPEEDING), source=SOURCE)
    broken = entity | {"category": "bicycle", "severity": "extreme", "dateIssued": "yesterday"}
    del broken["alertSource"]

    messages = " ".join(_errors(alert_schema, broken))
    assert "'bicycle' is not one of" in messages
    assert "'extreme' is not one of" in messages
    assert "'alertSource' is a required property" in messages
    assert "yesterday" in messages


def test_an_alert_is_a_point_in_lon_lat_order_with_a_public_description() -> None:
    entity = ngsi.alert(_hazard(HazardCategory.CLOSE_PASS), source=SOURCE)

    assert entity["location"] == {"type": "Point", "coordinates": [4.47762, 51.02591]}
    assert entity["id"] == f"urn:ngsi-ld:Alert:{uuid.UUID(int=42)}"
    assert entity["dateIssued"] == "2026-03-02T07:45:12Z"
    assert entity["description"].startswith("Close pass")
    assert "3 reports" in entity["description"]


def _statistic(cell: str) -> ngsi.CellStatistic:
    return ngsi.CellStatistic(
        cell=cell,
        rides=41,
        near_misses=2,
        contributors=7,
        active_hazards=1,
        danger_score=37.26,
        since=datetime(2026, 2, 1, tzinfo=UTC),
        until=datetime(2026, 2, 28, tzinfo=UTC),
        epsilon=0.99,
        delta=1e-6,
    )


@pytest.mark.parametrize("resolution", [7, 9, 10])
def test_a_cell_statistic_validates_and_is_a_closed_hexagon(
    cell_schema: Draft7Validator, resolution: int
) -> None:
    cell = h3.latlng_to_cell(51.0259, 4.4776, resolution)
    entity = ngsi.cell_statistic(_statistic(cell))

    assert _errors(cell_schema, entity) == []
    ring = entity["location"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 7
    lon, lat = ring[0]
    assert 4.3 < lon < 4.6 and 50.9 < lat < 51.1
    assert entity["dangerScore"] == 37.3 and entity["privacyEpsilon"] == 0.99


def test_the_cell_schema_refuses_a_negative_count(cell_schema: Draft7Validator) -> None:
    entity = ngsi.cell_statistic(_statistic(h3.latlng_to_cell(51.0259, 4.4776, 9)))
    assert _errors(cell_schema, entity | {"rides": -1})


def test_normalized_form_types_every_attribute() -> None:
    entity = ngsi.normalized(ngsi.alert(_hazard(HazardCategory.CONSTRUCTION), source=SOURCE))

    assert entity["location"]["type"] == "GeoProperty"
    assert entity["alertSource"] == {"type": "Relationship", "object": SOURCE}
    assert entity["dateIssued"]["value"] == {"@type": "DateTime", "@value": "2026-03-02T07:45:12Z"}
    assert entity["subCategory"] == {"type": "Property", "value": "roadWorks"}


def test_entity_ids_parse_back_and_strangers_are_refused() -> None:
    cell = h3.latlng_to_cell(51.0259, 4.4776, 9)
    assert ngsi.parse_entity_id(ngsi.alert_id(uuid.UUID(int=7))) == ("Alert", str(uuid.UUID(int=7)))
    assert ngsi.parse_entity_id(ngsi.cell_id(cell)) == ("SafeRoutesCellStatistic", cell)
    for stranger in (
        "urn:ngsi-ld:Alert:not-a-uuid",
        "urn:ngsi-ld:Vehicle:1",
        "Alert:1",
        "urn:ngsi-ld:SafeRoutesCellStatistic:zz",
    ):
        with pytest.raises(ngsi.NotAnEntityId):
            ngsi.parse_entity_id(stranger)
