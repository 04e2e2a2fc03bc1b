"""The pure rules of hazard reporting: codes, severity, triage workflow, text hygiene, abuse caps.

Nothing here touches a database or HTTP, so the API, the Open311 facade, the
demo generator and the danger model all read the same vocabulary and the rules
can be tested without fixtures. Errors are the domain's own (`domain.core.errors`),
raised where the rule lives and turned into problem documents once, in the API.
What each category is called, in three languages and three standards, is the
catalogue's (`domain.hazards.categories`, data in ``categories.json``).
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final
from uuid import UUID

from domain.core.errors import Conflict, Forbidden, InvalidInput, TooManyRequests

MIN_SEVERITY: Final = 1
MAX_SEVERITY: Final = 3
MAX_DESCRIPTION_LENGTH: Final = 1000
MAX_PUBLIC_NOTE_LENGTH: Final = 2000
DAILY_REPORT_CAP: Final = 20
REPORT_CAP_WINDOW: Final = timedelta(hours=24)
UPLOAD_WINDOW: Final = timedelta(days=7)
"""How late an observation may reach the service: a ride must have ended, a hazard been seen, within
it. An app offline for a week still syncs; a ride or a near miss dated months or years back does not
(it would earn points and weigh in the danger map as if it were news)."""
MAX_OBSERVED_AGE: Final = UPLOAD_WINDOW
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)


class HazardCategory(StrEnum):
    """Stable codes: stored, sent by the apps and used as Open311 service codes, so never rename one."""

    DANGEROUS_CROSSING = "dangerous_crossing"
    CLOSE_PASS = "close_pass"  # noqa: S105 - a category code, not a password
    SPEEDING = "speeding"
    MISSING_BIKE_LANE = "missing_bike_lane"
    BLOCKED_BIKE_LANE = "blocked_bike_lane"
    ROAD_SURFACE = "road_surface"
    POOR_VISIBILITY = "poor_visibility"
    SCHOOL_GATE = "school_gate"
    CONSTRUCTION = "construction"
    OTHER = "other"


class HazardStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    PLANNED = "planned"
    RESOLVED = "resolved"
    REJECTED = "rejected"


class Open311Status(StrEnum):
    """GeoReport v2 knows only two states; the nuance travels in `status_notes`."""

    OPEN = "open"
    CLOSED = "closed"


# --- errors -------------------------------------------------------------------------------------------


class InvalidHazardInput(InvalidInput):
    """A hazard field breaks a rule (unknown category, severity out of range, text too long)."""


class InvalidTransition(Conflict):
    """A planner asked for a status change the workflow does not allow (409: it depends on current state)."""

    code = "invalid-status-transition"
    title = "Invalid status transition"

    def __init__(self, current: HazardStatus, target: HazardStatus) -> None:
        allowed = sorted(ALLOWED_TRANSITIONS[current])
        if allowed:
            detail = f"A hazard that is '{current}' cannot become '{target}'; allowed: {', '.join(allowed)}."
        else:
            detail = f"A hazard that is '{current}' is final and cannot become '{target}'."
        super().__init__(detail, currentStatus=str(current), requestedStatus=str(target), allowed=allowed)
        self.current = current
        self.target = target


class HazardClosed(Conflict):
    """A resolved or rejected hazard takes no more confirmations: its story is final."""

    code = "hazard-closed"
    title = "Hazard is closed"


class ReportCapReached(TooManyRequests):
    """The user filed `DAILY_REPORT_CAP` reports in the rolling window: slows down spam and pranks."""

    code = "hazard-report-cap"
    title = "Too many hazard reports"


class OwnReportConfirmation(Forbidden):
    """Confirming one's own report would let a single person inflate a hazard's credibility."""

    code = "own-report-confirmation"
    title = "Cannot confirm your own report"


def parse_category(value: str, *, field: str = "category") -> HazardCategory:
    """Turn a wire value into a category, naming the valid codes when it is not one."""
    try:
        return HazardCategory(value)
    except ValueError:
        valid = ", ".join(c.value for c in HazardCategory)
        raise InvalidHazardInput(
            field,
            f"Unknown hazard category '{value[:40]}'; use one of: {valid}.",
            code="unknown-hazard-category",
        ) from None


def category_for_service_code(service_code: str) -> HazardCategory:
    """Open311 clients send a `service_code`; it is our category code, but the error names their field."""
    return parse_category(service_code, field="service_code")


# --- severity -----------------------------------------------------------------------------------------


def validate_severity(value: int, *, field: str = "severity") -> int:
    """1 = uncomfortable, 2 = dangerous, 3 = very dangerous; anything else is refused, not clamped."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_SEVERITY <= value <= MAX_SEVERITY:
        raise InvalidHazardInput(
            field,
            f"Severity must be a whole number from {MIN_SEVERITY} to {MAX_SEVERITY}.",
            code="severity-out-of-range",
        )
    return value


def hazard_severity(report_severities: Iterable[int]) -> int:
    """A hazard's severity is the upper median of its reports.

    The median keeps one exaggerated (or understated) report from deciding the
    public rating; taking the upper one errs on the side of caution when the
    reporters are split evenly, since most of them are children.
    """
    ordered = sorted(validate_severity(s) for s in report_severities)
    if not ordered:
        raise ValueError("a hazard has at least one report")
    return ordered[len(ordered) // 2]


# --- status workflow ----------------------------------------------------------------------------------

ALLOWED_TRANSITIONS: Final[Mapping[HazardStatus, frozenset[HazardStatus]]] = MappingProxyType(
    {
        HazardStatus.OPEN: frozenset(
            {HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED, HazardStatus.RESOLVED, HazardStatus.REJECTED}
        ),
        HazardStatus.ACKNOWLEDGED: frozenset(
            {HazardStatus.PLANNED, HazardStatus.RESOLVED, HazardStatus.REJECTED}
        ),
        HazardStatus.PLANNED: frozenset({HazardStatus.RESOLVED, HazardStatus.REJECTED}),
        HazardStatus.RESOLVED: frozenset(),
        HazardStatus.REJECTED: frozenset(),
    }
)
"""Forward only along open → acknowledged → planned → resolved (steps may be skipped, e.g. a blocked lane
cleared the same day), rejection from any non-final state, and resolved/rejected are final: a new report
at the same place then starts a new hazard, so history is never rewritten."""

ACTIVE_STATUSES: Final[frozenset[HazardStatus]] = frozenset(
    {HazardStatus.OPEN, HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED}
)
"""Hazards a new report may join, that users may confirm, and that weigh in the danger score."""

TAKEN_UP: Final[frozenset[HazardStatus]] = frozenset(
    {HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED, HazardStatus.RESOLVED}
)
"""Statuses in which a planner has acknowledged a hazard: its reporters earn their report points."""

PUBLISHED_STATUSES: Final[frozenset[HazardStatus]] = frozenset(
    {HazardStatus.OPEN, HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED, HazardStatus.RESOLVED}
)
"""Rejected hazards are not alerts: a planner found nothing there, so they leave the open data."""
PUBLISHED_VALUES: Final = frozenset(s.value for s in PUBLISHED_STATUSES)


def is_active(status: HazardStatus) -> bool:
    return status in ACTIVE_STATUSES


def validate_transition(current: HazardStatus, target: HazardStatus) -> None:
    """Raise `InvalidTransition` unless the workflow allows `current` → `target`.

    Staying in the same status is not a transition: a note-only edit must not
    add a line to the status history, so the caller handles it without asking.
    """
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(current, target)


def parse_status(value: str, *, field: str = "status") -> HazardStatus:
    try:
        return HazardStatus(value)
    except ValueError:
        valid = ", ".join(s.value for s in HazardStatus)
        raise InvalidHazardInput(
            field, f"Unknown hazard status '{value[:40]}'; use one of: {valid}.", code="unknown-hazard-status"
        ) from None


def open311_status(status: HazardStatus) -> Open311Status:
    return Open311Status.OPEN if is_active(status) else Open311Status.CLOSED


def statuses_for_open311(status: Open311Status) -> frozenset[HazardStatus]:
    """The inverse, for filtering `requests.json?status=open|closed`."""
    return frozenset(s for s in HazardStatus if open311_status(s) is status)


# --- what the public sees -------------------------------------------------------------------------


def public_time(moment: datetime) -> datetime:
    """A hazard's time as the public sees it (REST, Open311, NGSI-LD, the dump): floored to the hour.

    To the microsecond, a hazard's times say when one person filed or
    confirmed it: near a school, when a child passed. The hour is enough to
    read a hazard's age and order.
    """
    return moment.replace(minute=0, second=0, microsecond=0)


def public_time_or_none(moment: datetime | None) -> datetime | None:
    return None if moment is None else public_time(moment)


# --- a report before it is filed --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportDraft:
    """One report before it is filed; `lat`/`lon` are WGS84 degrees, named explicitly."""

    lat: float
    lon: float
    category: str
    severity: int
    description: str | None = None
    observed_at: datetime | None = None
    ride_id: uuid.UUID | None = None
    ride_offset_s: int | None = None
    at_cell: bool = False
    """Publish a new hazard from this report at its cell's centre, not at the point: a near miss in
    a ride's trimmed start or end lies near where its rider lives or works."""


def observed_minute(observed_at: datetime | None, now: datetime) -> datetime:
    """When it was seen, to the minute: exact times of a child's whereabouts are not needed."""
    moment = observed_at or now
    if moment.tzinfo is None:
        raise InvalidHazardInput("observedAt", "Give observedAt with a time zone (RFC 3339).")
    if moment > now + MAX_CLOCK_SKEW or moment < now - MAX_OBSERVED_AGE:
        raise InvalidHazardInput(
            "observedAt",
            f"observedAt must lie within the last {MAX_OBSERVED_AGE.days} days, not in the future.",
            code="observed-at-out-of-range",
        )
    return moment.replace(second=0, microsecond=0)


# --- free text ----------------------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EXCESS_BLANK_LINES = re.compile(r"\n{3,}")


def sanitize_text(value: str | None, *, field: str, max_length: int) -> str | None:
    """Reduce user text to plain, tidy text, or refuse it when it is too long.

    Control characters (except newlines), lone surrogates and bidirectional
    overrides are dropped: they break storage, logs and CSV exports or let a
    text display differently from what it says. Runs of spaces collapse, lines
    are trimmed and at most one blank line is kept. Markup is left as typed
    (it is plain text, escaped by whoever renders it). The length cap applies
    after cleaning and is an error, never a silent cut, so nobody's words are
    published half-way. Empty text means no text: None.
    """
    if value is None:
        return None
    text = unicodedata.normalize("NFC", _LINE_BREAKS.sub("\n", value))
    kept: list[str] = []
    for ch in text:
        if ch == "\n":
            kept.append(ch)
        elif ch == "\t":
            kept.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS:
            continue
        else:
            kept.append(ch)
    lines = (" ".join(line.split()) for line in "".join(kept).split("\n"))
    cleaned = _EXCESS_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    if not cleaned:
        return None
    if len(cleaned) > max_length:
        raise InvalidHazardInput(
            field,
            f"Text is {len(cleaned)} characters long; the limit is {max_length}.",
            code="text-too-long",
            maxLength=max_length,
        )
    return cleaned


def sanitize_description(value: str | None) -> str | None:
    return sanitize_text(value, field="description", max_length=MAX_DESCRIPTION_LENGTH)


def sanitize_public_note(value: str | None) -> str | None:
    return sanitize_text(value, field="publicNote", max_length=MAX_PUBLIC_NOTE_LENGTH)


# --- anti-abuse ---------------------------------------------------------------------------------------


def ensure_report_quota(
    reports_in_window: int,
    oldest_in_window: datetime | None,
    *,
    now: datetime,
    cap: int = DAILY_REPORT_CAP,
) -> None:
    """Refuse a report once the user filed `cap` in the last 24 hours.

    A rolling window needs no time zone and cannot be gamed at midnight. The
    caller counts the user's reports newer than `now - REPORT_CAP_WINDOW` and
    passes the oldest of them, so the answer can say when a slot frees up.
    """
    if reports_in_window < cap:
        return
    if oldest_in_window is None:
        retry_after = REPORT_CAP_WINDOW
    else:
        retry_after = max(oldest_in_window + REPORT_CAP_WINDOW - now, timedelta(seconds=1))
    raise ReportCapReached(
        f"You can report at most {cap} hazards in 24 hours; thank you, and please try again later.",
        retry_after_s=math.ceil(retry_after.total_seconds()),
    )


def ensure_accepts_confirmations(status: HazardStatus) -> None:
    """Only active hazards are confirmed or disputed; after closure a new report starts a new hazard."""
    if not is_active(status):
        raise HazardClosed(
            f"This hazard is {status}; report it again if the danger is back.", hazardStatus=str(status)
        )


def ensure_can_confirm(user_id: UUID, reporter_ids: Collection[UUID]) -> None:
    """A user who reported a hazard (any of its reports) may not also confirm or dispute it."""
    if user_id in reporter_ids:
        raise OwnReportConfirmation("You reported this hazard yourself; others can confirm it.")
