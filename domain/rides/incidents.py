"""Near misses recorded during a ride become hazard reports tied to the ride, or are dropped *visibly*.

An incident is refused (422, naming `incidents[i].<field>`, nothing stored)
when it is malformed or outside the ride's time span. A valid incident is
dropped, with the reason in the upload's answer, when:
- the user has no effective `hazard_reporting` consent (the ride itself is
  still kept: it was consented to);
- it lies inside one of the user's privacy zones (a zone means nothing is kept
  there, and a hazard's point is public);
- it is older than hazard reports may be (a late upload of an old ride);
- the user's daily report cap is reached (all of the ride's incidents go,
  rather than an arbitrary subset; the ride is still kept).
Incidents in the trimmed start and end are kept: they are explicit
observations, and the most valuable ones (a school gate) sit exactly there.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.tables import User
from domain.hazards import service as hazard_service
from domain.hazards.rules import (
    MAX_DESCRIPTION_LENGTH,
    InvalidHazardInput,
    ReportCapReached,
    parse_category,
    sanitize_text,
    validate_severity,
)
from domain.hazards.service import ReportDraft
from privacy.zones.rules import PrivacyZone, in_any_zone

MAX_INCIDENTS = 50
TIME_TOLERANCE_S = 60.0
"""An incident may be noted up to a minute before the first or after the last fix."""


class DropReason(StrEnum):
    NO_CONSENT = "hazard_reporting_consent_missing"
    PRIVACY_ZONE = "inside_privacy_zone"
    TOO_OLD = "too_old_for_hazard_reports"
    REPORT_CAP = "daily_report_cap_reached"


@dataclass(frozen=True, slots=True)
class Incident:
    """A near miss as uploaded: epoch-second time, WGS84 position, hazard category and severity."""

    t: float
    lat: float
    lon: float
    category: str
    severity: int
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Dropped:
    index: int
    reason: DropReason


@dataclass(frozen=True, slots=True)
class Checked:
    """Valid incidents split into those to file (with their upload index) and those dropped."""

    to_file: tuple[tuple[int, ReportDraft], ...]
    dropped: tuple[Dropped, ...]


def check_incidents(
    incidents: Sequence[Incident],
    *,
    span: tuple[float, float],
    ride_id: uuid.UUID,
    ride_start: datetime,
    zones: Sequence[PrivacyZone],
    consented: bool,
    now: datetime,
) -> Checked:
    """Validate every incident (raising for the first bad one) and decide which are filed."""
    if len(incidents) > MAX_INCIDENTS:
        raise InvalidHazardInput("incidents", f"A ride may carry at most {MAX_INCIDENTS} incidents.")
    first, last = span
    to_file: list[tuple[int, ReportDraft]] = []
    dropped: list[Dropped] = []
    for i, inc in enumerate(incidents):
        at = f"incidents[{i}]"
        for name, value, low, high in (("lat", inc.lat, -90.0, 90.0), ("lon", inc.lon, -180.0, 180.0)):
            if not (math.isfinite(value) and low <= value <= high):
                raise InvalidHazardInput(f"{at}.{name}", f"Must be between {low:g} and {high:g}.")
        if not (math.isfinite(inc.t) and first - TIME_TOLERANCE_S <= inc.t <= last + TIME_TOLERANCE_S):
            raise InvalidHazardInput(f"{at}.t", "An incident must happen during the ride.")
        category = parse_category(inc.category, field=f"{at}.category")
        validate_severity(inc.severity, field=f"{at}.severity")
        description = sanitize_text(
            inc.description, field=f"{at}.description", max_length=MAX_DESCRIPTION_LENGTH
        )
        observed = datetime.fromtimestamp(inc.t, tz=UTC)
        if not consented:
            dropped.append(Dropped(i, DropReason.NO_CONSENT))
        elif zones and in_any_zone(inc.lat, inc.lon, zones):
            dropped.append(Dropped(i, DropReason.PRIVACY_ZONE))
        elif observed < now - hazard_service.MAX_OBSERVED_AGE:
            dropped.append(Dropped(i, DropReason.TOO_OLD))
        else:
            offset = max(0, round(inc.t - ride_start.timestamp()))
            draft = ReportDraft(
                inc.lat, inc.lon, category.value, inc.severity, description, observed, ride_id, offset
            )
            to_file.append((i, draft))
    return Checked(tuple(to_file), tuple(dropped))


async def file_incidents(
    session: AsyncSession, user: User, checked: Checked, *, now: datetime, resolution: int
) -> tuple[int, tuple[Dropped, ...]]:
    """File the incidents to keep in the caller's transaction; returns (filed, all dropped)."""
    if not checked.to_file:
        return 0, checked.dropped
    drafts = [draft for _, draft in checked.to_file]
    try:
        await hazard_service.file_reports(session, user, drafts, now=now, resolution=resolution)
    except ReportCapReached:
        # raised before anything is written, so the transaction is intact
        capped = tuple(Dropped(i, DropReason.REPORT_CAP) for i, _ in checked.to_file)
        return 0, tuple(sorted(checked.dropped + capped, key=lambda d: d.index))
    return len(drafts), checked.dropped
