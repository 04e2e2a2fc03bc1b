"""Hazards and cell statistics as NGSI-LD entities (FIWARE Smart Data Models), pure encoders.

The open-data face of SafeRoutes (docs/open-data.md) follows OASC MIM1 (the
NGSI-LD context information API) and MIM2 (Smart Data Models):

- a hazard is an SDM ``Alert``: ``category`` always ``traffic``, ``subCategory``
  from :data:`domain.hazards.categories.CATEGORIES`, our own code in
  ``data.hazardCategory``. The ``description`` is built from the category
  label and the public counts, never from a reporter's text;
- a k-anonymous cell statistic is a ``SafeRoutesCellStatistic``, our own,
  documented type (SDM ``TrafficFlowObserved`` describes a counter on a lane
  and would misread app passages as traffic counts).

Entities are built in the *simplified* (``keyValues``) form, the one the SDM
JSON schemas validate; :func:`normalized` turns one into the NGSI-LD
normalized form (``Property``/``GeoProperty``/``Relationship``) and
:func:`feature` into the GeoJSON representation. Positions are ``[lon, lat]``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import h3

from domain.hazards.categories import CATEGORIES, SDM_ALERT_CATEGORY, SDM_OWN_CODE_ATTRIBUTE, sdm_severity
from domain.hazards.rules import HazardCategory, HazardStatus

ALERT: Final = "Alert"
CELL_STATISTIC: Final = "SafeRoutesCellStatistic"
ENTITY_TYPES: Final = (ALERT, CELL_STATISTIC)

SDM_CONTEXT: Final = "https://smartdatamodels.org/context.jsonld"
CORE_CONTEXT: Final = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
TERMS_BASE: Final = "https://saferoutes.eu/ngsi-ld/terms#"
"""Namespace of the terms of our own entity type (defined in :func:`context_document`)."""

CELL_TERMS: Final = (
    "h3Index",
    "h3Resolution",
    "dateObservedFrom",
    "dateObservedTo",
    "rides",
    "nearMisses",
    "contributors",
    "activeHazards",
    "dangerScore",
    "privacyEpsilon",
    "privacyDelta",
)
_RELATIONSHIPS: Final = frozenset({"alertSource"})
_DATETIMES: Final = frozenset({"dateIssued", "validFrom", "validTo", "dateModified", "dateCreated"})
_DATETIMES_CELL: Final = frozenset({"dateObservedFrom", "dateObservedTo"})


class NotAnEntityId(ValueError):
    """An id that is not ``urn:ngsi-ld:<Alert|SafeRoutesCellStatistic>:<key>``."""


def iso(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, seconds precision."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def alert_id(hazard_id: uuid.UUID) -> str:
    return f"urn:ngsi-ld:{ALERT}:{hazard_id}"


def cell_id(cell: str) -> str:
    return f"urn:ngsi-ld:{CELL_STATISTIC}:{cell}"


def parse_entity_id(entity_id: str) -> tuple[str, str]:
    """``(type, key)`` of one of our ids: a hazard UUID or an H3 cell; :class:`NotAnEntityId` otherwise."""
    prefix, _, rest = entity_id.partition(":ngsi-ld:")
    kind, _, key = rest.partition(":")
    if prefix != "urn" or kind not in ENTITY_TYPES or not key:
        raise NotAnEntityId(entity_id)
    if kind == ALERT:
        try:
            return kind, str(uuid.UUID(key))
        except ValueError:
            raise NotAnEntityId(entity_id) from None
    if not h3.is_valid_cell(key):
        raise NotAnEntityId(entity_id)
    return kind, key


@dataclass(frozen=True, slots=True)
class PublicHazard:
    """What the public already sees of a hazard (``GET /hazards``): no reporter, no report text."""

    id: uuid.UUID
    category: str
    lat: float
    lon: float
    status: str
    severity: int
    report_count: int
    confirmation_count: int
    dispute_count: int
    public_note: str | None
    created_at: datetime
    updated_at: datetime


def _alert_description(hazard: PublicHazard) -> str:
    label = CATEGORIES[HazardCategory(hazard.category)].label.en
    reports = f"{hazard.report_count} report{'s' if hazard.report_count != 1 else ''}"
    return (
        f"{label}: reported by citizens on the SafeRoutes app ({reports}, "
        f"{hazard.confirmation_count} confirmed, {hazard.dispute_count} disputed); status {hazard.status}."
    )


def alert(hazard: PublicHazard, *, source: str) -> dict[str, Any]:
    """The SDM ``Alert`` of a hazard, keyValues form. ``source`` is the ``alertSource`` (a URN or URL)."""
    info = CATEGORIES[HazardCategory(hazard.category)]
    data: dict[str, Any] = {
        SDM_OWN_CODE_ATTRIBUTE: info.code.value,
        "status": hazard.status,
        "severityLevel": hazard.severity,
        "reportCount": hazard.report_count,
        "confirmationCount": hazard.confirmation_count,
        "disputeCount": hazard.dispute_count,
    }
    if hazard.public_note:
        data["publicNote"] = hazard.public_note
    entity: dict[str, Any] = {
        "id": alert_id(hazard.id),
        "type": ALERT,
        "category": SDM_ALERT_CATEGORY,
        "subCategory": info.sdm_sub_category,
        "severity": sdm_severity(hazard.severity),
        "location": {"type": "Point", "coordinates": [hazard.lon, hazard.lat]},
        "dateIssued": iso(hazard.created_at),
        "validFrom": iso(hazard.created_at),
        "dateModified": iso(hazard.updated_at),
        "alertSource": source,
        "description": _alert_description(hazard),
        "name": info.label.en,
        "data": data,
    }
    if HazardStatus(hazard.status) is HazardStatus.RESOLVED:
        entity["validTo"] = iso(hazard.updated_at)
    return entity


@dataclass(frozen=True, slots=True)
class CellStatistic:
    """One cell's released figures over ``[since, until]`` (UTC days, both included): noisy counts of a
    differentially private release (``epsilon``, ``delta``), never exact ones."""

    cell: str
    rides: int
    near_misses: int
    contributors: int
    active_hazards: int
    danger_score: float
    since: datetime
    until: datetime
    epsilon: float
    delta: float


def _hexagon(cell: str) -> dict[str, Any]:
    ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def cell_statistic(stat: CellStatistic) -> dict[str, Any]:
    """A ``SafeRoutesCellStatistic``, keyValues form; ``location`` is the hexagon, ``[lon, lat]``."""
    return {
        "id": cell_id(stat.cell),
        "type": CELL_STATISTIC,
        "h3Index": stat.cell,
        "h3Resolution": h3.get_resolution(stat.cell),
        "location": _hexagon(stat.cell),
        "dateObservedFrom": iso(stat.since),
        "dateObservedTo": iso(stat.until),
        "rides": stat.rides,
        "nearMisses": stat.near_misses,
        "contributors": stat.contributors,
        "activeHazards": stat.active_hazards,
        "dangerScore": round(stat.danger_score, 1),
        "privacyEpsilon": round(stat.epsilon, 4),
        "privacyDelta": stat.delta,
        "dataProvider": "SafeRoutes",
    }


def _datetime_value(value: str) -> dict[str, str]:
    return {"@type": "DateTime", "@value": value}


def normalized(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The NGSI-LD normalized form of a keyValues entity."""
    datetimes = _DATETIMES | _DATETIMES_CELL
    out: dict[str, Any] = {"id": entity["id"], "type": entity["type"]}
    for name, value in entity.items():
        if name in ("id", "type", "@context"):
            continue
        if name == "location":
            out[name] = {"type": "GeoProperty", "value": value}
        elif name in _RELATIONSHIPS:
            out[name] = {"type": "Relationship", "object": value}
        elif name in datetimes:
            out[name] = {"type": "Property", "value": _datetime_value(value)}
        else:
            out[name] = {"type": "Property", "value": value}
    return out


def project(entity: Mapping[str, Any], attrs: Iterable[str] | None) -> dict[str, Any]:
    """Keep ``id``, ``type`` and the attributes named in ``attrs`` (all when None)."""
    if attrs is None:
        return dict(entity)
    wanted = set(attrs) | {"id", "type"}
    return {name: value for name, value in entity.items() if name in wanted}


def feature(entity: Mapping[str, Any], *, key_values: bool) -> dict[str, Any]:
    """The GeoJSON representation of one entity (NGSI-LD §4.5.16): geometry from ``location``."""
    shaped = dict(entity) if key_values else normalized(entity)
    properties = {name: value for name, value in shaped.items() if name != "id"}
    return {
        "id": entity["id"],
        "type": "Feature",
        "geometry": entity.get("location"),
        "properties": properties,
    }


def feature_collection(features: list[dict[str, Any]], context: str | None) -> dict[str, Any]:
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if context is not None:
        collection["@context"] = context
    return collection


def context_document() -> dict[str, Any]:
    """Our JSON-LD @context: the SDM and core contexts plus the terms of ``SafeRoutesCellStatistic``."""
    terms = {term: f"{TERMS_BASE}{term}" for term in (CELL_STATISTIC, *CELL_TERMS)}
    return {"@context": [SDM_CONTEXT, terms, CORE_CONTEXT]}


__all__ = [
    "ALERT",
    "CELL_STATISTIC",
    "CORE_CONTEXT",
    "ENTITY_TYPES",
    "SDM_CONTEXT",
    "CellStatistic",
    "NotAnEntityId",
    "PublicHazard",
    "alert",
    "alert_id",
    "cell_id",
    "cell_statistic",
    "context_document",
    "feature",
    "feature_collection",
    "iso",
    "normalized",
    "parse_entity_id",
    "project",
]
