"""Privacy on the wire: consents, privacy zones, the self-service export, guardian consent and erasure."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.params import QueryParameter

from api.wire import Out, Strict
from domain.core.enums import ConsentGiver, ConsentPurpose
from privacy.consent.rules import PurposeState
from privacy.guardians.service import GuardianConsent, GuardianRelationship
from privacy.tables import ConsentRecord, PrivacyZoneRecord
from privacy.zones.rules import MAX_ZONE_RADIUS_M, MIN_ZONE_RADIUS_M

Code = Annotated[
    str, msgspec.Meta(min_length=4, max_length=32, description="as typed; case and dashes ignored")
]


class ConsentSummary(Out):
    purpose: str
    effective: bool
    granted: bool | None
    given_by: str | None
    policy_version: str | None
    recorded_at: datetime | None
    guardian_consent_required: bool


class ConsentRequest(Strict):
    granted: bool
    policy_version: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class ConsentEntry(Out):
    id: uuid.UUID
    purpose: str
    granted: bool
    policy_version: str
    recorded_at: datetime
    given_by: str
    guardian_relationship: str | None


class ConsentOverview(Out):
    current_policy_version: str
    is_child: bool
    purposes: list[ConsentSummary]
    history: list[ConsentEntry]


def consent_summaries(states: dict[ConsentPurpose, PurposeState]) -> list[ConsentSummary]:
    return [
        ConsentSummary(
            purpose=s.purpose.value,
            effective=s.effective,
            granted=s.granted,
            given_by=s.given_by.value if s.given_by else None,
            policy_version=s.policy_version,
            recorded_at=s.recorded_at,
            guardian_consent_required=s.guardian_needed,
        )
        for s in states.values()
    ]


def consent_entry(record: ConsentRecord) -> ConsentEntry:
    return ConsentEntry(
        id=record.id,
        purpose=record.purpose,
        granted=record.granted,
        policy_version=record.policy_version,
        recorded_at=record.recorded_at,
        given_by=record.given_by,
        guardian_relationship=record.guardian_relationship,
    )


class ZoneCreate(Strict):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    radius_m: Annotated[float, msgspec.Meta(ge=MIN_ZONE_RADIUS_M, le=MAX_ZONE_RADIUS_M, description="metres")]


class ZoneOut(Out):
    id: uuid.UUID
    lat: float
    lon: float
    radius_m: float
    created_at: datetime


class GuardianConsentRequest(Strict):
    code: Code
    relationship: GuardianRelationship
    purposes: Annotated[list[ConsentPurpose], msgspec.Meta(min_length=1, max_length=len(ConsentPurpose))]
    policy_version: Annotated[str, msgspec.Meta(min_length=1, max_length=32)] | None = None


class GuardianConsentOut(Out):
    child_nickname: str
    relationship: str
    given_by: str
    policy_version: str
    purposes: list[str]
    recorded_at: datetime


class GuardianCodeOut(Out):
    guardian_code: str
    expires_at: datetime


ExportFormat = Annotated[
    Literal["json", "gpx"], QueryParameter(description="json: every row held about you; gpx: your rides")
]


class GuardianErasure(Strict):
    code: Annotated[str, msgspec.Meta(min_length=4, max_length=64)]


def zone_out(zone: PrivacyZoneRecord) -> ZoneOut:
    return ZoneOut(id=zone.id, lat=zone.lat, lon=zone.lon, radius_m=zone.radius_m, created_at=zone.created_at)


def guardian_consent_out(given: GuardianConsent) -> GuardianConsentOut:
    first = given.records[0]
    return GuardianConsentOut(
        child_nickname=given.child_nickname,
        relationship=given.relationship.value,
        given_by=ConsentGiver.GUARDIAN.value,
        policy_version=first.policy_version,
        purposes=[r.purpose for r in given.records],
        recorded_at=first.recorded_at,
    )
