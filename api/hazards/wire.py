"""Wire types of the hazard endpoints, and the functions that shape rows into public answers.

Public shapes never carry who reported, confirmed or triaged: no user ids,
handles, report ids or report descriptions (docs/hazards.md, "What the public sees").
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter

from api.wire import Out, Strict
from domain.core.errors import InvalidInput
from domain.hazards.categories import CATEGORIES, LocalizedText
from domain.hazards.rules import (
    MAX_DESCRIPTION_LENGTH,
    MAX_PUBLIC_NOTE_LENGTH,
    HazardCategory,
    HazardStatus,
    public_time,
    public_time_or_none,
)
from domain.hazards.store import BBox
from domain.hazards.tables import Hazard, HazardReport, HazardStatusChange

Lat = Annotated[float, msgspec.Meta(ge=-90, le=90, description="WGS84 latitude, degrees")]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180, description="WGS84 longitude, degrees")]
# the caps the rules apply to the cleaned text (a 422 should cleaning ever lengthen it)
Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION_LENGTH)]
PublicNote = Annotated[str, msgspec.Meta(max_length=MAX_PUBLIC_NOTE_LENGTH)]
MAX_BBOX_AREA_DEG2 = 4.0

SEVERITY_LABELS: dict[int, LocalizedText] = {
    1: LocalizedText(nl="Ongemakkelijk", fr="Inconfortable", en="Uncomfortable"),
    2: LocalizedText(nl="Gevaarlijk", fr="Dangereux", en="Dangerous"),
    3: LocalizedText(nl="Zeer gevaarlijk", fr="Très dangereux", en="Very dangerous"),
}


class Labels(Out):
    nl: str
    fr: str
    en: str


class CategoryOut(Out):
    code: str
    label: Labels
    description: Labels
    sdm_category: str
    sdm_sub_category: str
    sdm_exact: bool
    open311_service_code: str
    open311_group: str


class SeverityOut(Out):
    value: int
    label: Labels


class CategoryList(Out):
    categories: list[CategoryOut]
    severities: list[SeverityOut]


Severity = Annotated[
    int, msgspec.Meta(ge=1, le=3, description="1 uncomfortable, 2 dangerous, 3 very dangerous")
]


class HazardCreate(Strict):
    lat: Lat
    lon: Lon
    category: HazardCategory
    severity: Severity
    description: Description | None = None
    observed_at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class ReportReceipt(Out):
    report_id: uuid.UUID
    hazard_id: uuid.UUID
    status: str
    joined_existing: bool


class ConfirmationCreate(Strict):
    still_there: bool


class TriagePatch(Strict):
    status: HazardStatus | msgspec.UnsetType = msgspec.UNSET
    public_note: PublicNote | msgspec.UnsetType | None = msgspec.UNSET


class StatusChangeOut(Out):
    from_status: str
    to_status: str
    changed_at: datetime
    changed_by_role: str
    public_note: str | None


class HazardOut(Out):
    id: uuid.UUID
    category: str
    category_label: Labels
    severity: int
    status: str
    lat: float
    lon: float
    cell: str
    report_count: int
    confirmation_count: int
    dispute_count: int
    last_confirmed_at: datetime | None
    public_note: str | None
    created_at: datetime
    updated_at: datetime


class HazardDetail(HazardOut):
    history: list[StatusChangeOut]


class PlannerReport(Out):
    """What a planner reads to triage: the words, not the person (no user, no report id)."""

    category: str
    severity: int
    description: str | None
    observed_at: datetime
    created_at: datetime
    from_ride: bool


def labels(text: LocalizedText) -> Labels:
    return Labels(nl=text.nl, fr=text.fr, en=text.en)


def category_list() -> CategoryList:
    return CategoryList(
        categories=[
            CategoryOut(
                code=c.code.value,
                label=labels(c.label),
                description=labels(c.description),
                sdm_category=c.sdm_category,
                sdm_sub_category=c.sdm_sub_category,
                sdm_exact=c.sdm_exact,
                open311_service_code=c.open311_service_code,
                open311_group=c.open311_group,
            )
            for c in CATEGORIES.values()
        ],
        severities=[SeverityOut(value=v, label=labels(t)) for v, t in SEVERITY_LABELS.items()],
    )


def _hazard_fields(hazard: Hazard) -> dict[str, Any]:
    return {
        "id": hazard.id,
        "category": hazard.category,
        "category_label": labels(CATEGORIES[HazardCategory(hazard.category)].label),
        "severity": hazard.severity,
        "status": hazard.status,
        "lat": hazard.lat,
        "lon": hazard.lon,
        "cell": hazard.cell,
        "report_count": hazard.report_count,
        "confirmation_count": hazard.confirmation_count,
        "dispute_count": hazard.dispute_count,
        "last_confirmed_at": public_time_or_none(hazard.last_confirmed_at),
        "public_note": hazard.public_note,
        "created_at": public_time(hazard.created_at),
        "updated_at": public_time(hazard.updated_at),
    }


def hazard_out(hazard: Hazard) -> HazardOut:
    return HazardOut(**_hazard_fields(hazard))


def hazard_detail(hazard: Hazard, history: list[HazardStatusChange]) -> HazardDetail:
    changes = [
        StatusChangeOut(
            from_status=h.from_status,
            to_status=h.to_status,
            changed_at=public_time(h.changed_at),
            changed_by_role=h.changed_by_role,
            public_note=h.public_note,
        )
        for h in history
    ]
    return HazardDetail(**_hazard_fields(hazard), history=changes)


def receipt_body(report: HazardReport, hazard: Hazard) -> dict[str, Any]:
    """The answer to a filed report, as stored for Idempotency-Key replays (JSON-ready)."""
    receipt = ReportReceipt(
        report_id=report.id,
        hazard_id=hazard.id,
        status=hazard.status,
        joined_existing=hazard.created_at != report.created_at,
    )
    body: dict[str, Any] = msgspec.to_builtins(receipt)
    return body


def planner_report(report: HazardReport) -> PlannerReport:
    return PlannerReport(
        category=report.category,
        severity=report.severity,
        description=report.description,
        observed_at=report.observed_at,
        created_at=report.created_at,
        from_ride=report.ride_id is not None,
    )


_NUMBER = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"
"""Four plain decimal numbers; their ranges, order and area are checked by `parse_bbox` (422)."""
BBoxQuery = Annotated[
    str | None,
    QueryParameter(max_length=200, pattern=BBOX_PATTERN, description="minLon,minLat,maxLon,maxLat (WGS84)"),
]


def parse_bbox(raw: str | None) -> BBox | None:
    """`minLon,minLat,maxLon,maxLat` (GeoJSON order), finite, in range, ordered, not a continent."""
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(
            "bbox", "Give bbox as four numbers: minLon,minLat,maxLon,maxLat.", code="invalid-bbox"
        )
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise InvalidInput(
            "bbox",
            "bbox needs -180 ≤ minLon < maxLon ≤ 180 and -90 ≤ minLat < maxLat ≤ 90.",
            code="invalid-bbox",
        )
    if (max_lon - min_lon) * (max_lat - min_lat) > MAX_BBOX_AREA_DEG2:
        raise InvalidInput(
            "bbox",
            f"bbox may cover at most {MAX_BBOX_AREA_DEG2:g} square degrees; zoom in.",
            code="bbox-too-large",
        )
    return BBox(min_lon, min_lat, max_lon, max_lat)
