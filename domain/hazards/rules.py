"""The pure rules of hazard reporting: categories, severity, triage workflow, text hygiene, abuse caps.

Nothing here touches a database or HTTP, so the API, the Open311 facade, the
demo generator and the danger model all read the same vocabulary and the rules
can be tested without fixtures. Errors are the domain's own (`domain.errors`),
raised where the rule lives and turned into problem documents once, in the API.

The category catalogue is the single source of the three public vocabularies a
hazard has to speak: our stable snake_case codes (the wire format of the app),
the FIWARE Smart Data Models `Alert` entity (`category`/`subCategory`, for the
city's open-data broker) and Open311 GeoReport v2 services (for the city's
ticketing system). `docs/hazards.md` explains the mapping choices.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal
from uuid import UUID

from domain.core.errors import Conflict, Forbidden, InvalidInput, TooManyRequests

Language = Literal["nl", "fr", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("nl", "fr", "en")

MIN_SEVERITY: Final = 1
MAX_SEVERITY: Final = 3
MAX_DESCRIPTION_LENGTH: Final = 1000
MAX_PUBLIC_NOTE_LENGTH: Final = 2000
DAILY_REPORT_CAP: Final = 20
REPORT_CAP_WINDOW: Final = timedelta(hours=24)

SDM_ALERT_CATEGORY: Final = "traffic"
"""Every hazard is a traffic alert in Smart Data Models terms; the other SDM categories do not apply."""

SDM_OWN_CODE_ATTRIBUTE: Final = "hazardCategory"
"""Key under the SDM Alert `data` payload that carries our own category code, since the SDM
`subCategory` enum is coarser than our catalogue (most of ours map to `hazardOnRoad`)."""


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


# --- the category catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalizedText:
    nl: str
    fr: str
    en: str

    def in_language(self, language: Language) -> str:
        text: str = getattr(self, language)
        return text


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """Everything the outside world needs to know about one category.

    `sdm_sub_category` is always a value of the SDM Alert `subCategory` enum;
    `sdm_exact` says whether it really means our category or is only the
    closest valid value (then consumers must read our code from
    `data.hazardCategory`).
    """

    code: HazardCategory
    label: LocalizedText
    description: LocalizedText
    sdm_sub_category: str
    sdm_exact: bool
    open311_group: str
    keywords: tuple[str, ...]

    @property
    def sdm_category(self) -> str:
        return SDM_ALERT_CATEGORY

    @property
    def open311_service_code(self) -> str:
        """Our code itself: stable, readable in a city's ticket system, no second table to keep in sync."""
        return self.code.value

    def open311_service_name(self, language: Language = "en") -> str:
        return self.label.in_language(language)


_CATALOGUE: Final[tuple[CategoryInfo, ...]] = (
    CategoryInfo(
        code=HazardCategory.DANGEROUS_CROSSING,
        label=LocalizedText(
            nl="Gevaarlijk kruispunt of oversteekplaats",
            fr="Carrefour ou traversée dangereux",
            en="Dangerous crossing or junction",
        ),
        description=LocalizedText(
            nl="Een kruispunt, rotonde of oversteekplaats waar fietsers of voetgangers gevaar lopen "
            "(slechte inrichting, geen voorrang, kruisende afslagbewegingen).",
            fr="Un carrefour, un rond-point ou une traversée où cyclistes et piétons sont mis en danger "
            "(aménagement inadapté, absence de priorité, mouvements tournants conflictuels).",
            en="A junction, roundabout or crossing where cyclists or pedestrians are put at risk "
            "(poor layout, no priority, conflicting turns).",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="infrastructure",
        keywords=("junction", "crossing", "roundabout", "kruispunt", "oversteekplaats", "carrefour"),
    ),
    CategoryInfo(
        code=HazardCategory.CLOSE_PASS,
        label=LocalizedText(
            nl="Rakelings inhalen / bijna-ongeval",
            fr="Dépassement trop serré / quasi-accident",
            en="Close pass / near miss",
        ),
        description=LocalizedText(
            nl="Een motorvoertuig haalde te dicht in of een aanrijding werd op het nippertje vermeden.",
            fr="Un véhicule a dépassé de trop près ou une collision a été évitée de justesse.",
            en="A motor vehicle passed too close or a collision was narrowly avoided.",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="traffic_behaviour",
        keywords=("close pass", "near miss", "inhalen", "bijna-ongeval", "dépassement", "quasi-accident"),
    ),
    CategoryInfo(
        code=HazardCategory.SPEEDING,
        label=LocalizedText(nl="Te snel verkeer", fr="Vitesse excessive", en="Speeding traffic"),
        description=LocalizedText(
            nl="Gemotoriseerd verkeer rijdt hier geregeld sneller dan toegelaten of dan veilig is "
            "voor fietsers en voetgangers.",
            fr="La circulation motorisée roule régulièrement plus vite que la limite ou que ce qui est "
            "sûr pour les cyclistes et les piétons.",
            en="Motor traffic regularly drives faster than the limit or than is safe for cyclists "
            "and pedestrians.",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="traffic_behaviour",
        keywords=("speeding", "speed", "snelheid", "vitesse"),
    ),
    CategoryInfo(
        code=HazardCategory.MISSING_BIKE_LANE,
        label=LocalizedText(
            nl="Ontbrekend of te smal fietspad",
            fr="Piste cyclable absente ou trop étroite",
            en="Missing or too narrow bike lane",
        ),
        description=LocalizedText(
            nl="Geen fietsinfrastructuur waar die nodig is, of een fietspad of fietsstrook die te smal "
            "is om veilig te fietsen.",
            fr="Pas d'aménagement cyclable là où il est nécessaire, ou une piste ou bande cyclable trop "
            "étroite pour rouler en sécurité.",
            en="No cycling infrastructure where it is needed, or a lane or path too narrow to ride safely.",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="infrastructure",
        keywords=("bike lane", "cycle path", "fietspad", "fietsstrook", "piste cyclable", "bande cyclable"),
    ),
    CategoryInfo(
        code=HazardCategory.BLOCKED_BIKE_LANE,
        label=LocalizedText(
            nl="Fietspad versperd (parkeren, werken)",
            fr="Piste cyclable encombrée (stationnement, travaux)",
            en="Bike lane blocked (parking, works)",
        ),
        description=LocalizedText(
            nl="Geparkeerde voertuigen, afvalcontainers, borden of werken versperren het fietspad of "
            "voetpad, waardoor mensen tussen het verkeer moeten.",
            fr="Des véhicules en stationnement, des conteneurs, des panneaux ou des travaux encombrent la "
            "piste cyclable ou le trottoir et obligent à rejoindre la circulation.",
            en="Parked vehicles, bins, signs or works obstruct the bike lane or footpath, forcing people "
            "into traffic.",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="obstruction",
        keywords=(
            "blocked",
            "parking",
            "obstruction",
            "versperd",
            "foutparkeren",
            "encombré",
            "stationnement",
        ),
    ),
    CategoryInfo(
        code=HazardCategory.ROAD_SURFACE,
        label=LocalizedText(
            nl="Slecht wegdek / put in de weg",
            fr="Revêtement dégradé / nid-de-poule",
            en="Poor road surface / pothole",
        ),
        description=LocalizedText(
            nl="Putten, scheuren, los grind, opgedrukte boomwortels of een glad wegdek waardoor je "
            "kunt vallen.",
            fr="Nids-de-poule, fissures, gravillons, racines soulevées ou revêtement glissant pouvant "
            "provoquer une chute.",
            en="Potholes, cracks, loose gravel, raised tree roots or a slippery surface that can make "
            "someone fall.",
        ),
        sdm_sub_category="pothole",
        sdm_exact=True,
        open311_group="maintenance",
        keywords=("pothole", "surface", "put", "wegdek", "nid-de-poule", "revêtement"),
    ),
    CategoryInfo(
        code=HazardCategory.POOR_VISIBILITY,
        label=LocalizedText(
            nl="Slechte zichtbaarheid of verlichting",
            fr="Mauvaise visibilité ou éclairage insuffisant",
            en="Poor visibility or lighting",
        ),
        description=LocalizedText(
            nl="Dode hoeken, overwoekerde hagen, geparkeerde bestelwagens of ontbrekende "
            "straatverlichting waardoor weggebruikers elkaar niet zien.",
            fr="Angles morts, haies envahissantes, camionnettes garées ou éclairage public manquant qui "
            "empêchent les usagers de se voir.",
            en="Blind corners, overgrown hedges, parked vans or missing street lighting that hide road "
            "users from each other.",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="infrastructure",
        keywords=("visibility", "lighting", "zichtbaarheid", "verlichting", "visibilité", "éclairage"),
    ),
    CategoryInfo(
        code=HazardCategory.SCHOOL_GATE,
        label=LocalizedText(
            nl="Gevaarlijk verkeer aan de schoolpoort",
            fr="Circulation dangereuse aux abords de l'école",
            en="Dangerous school-gate traffic",
        ),
        description=LocalizedText(
            nl="Brengen en halen met de auto, dubbel parkeren of manoeuvrerende auto's aan de schoolpoort "
            "die kinderen in gevaar brengen.",
            fr="Dépose-minute, stationnement en double file ou voitures qui manœuvrent devant l'école et "
            "mettent les enfants en danger.",
            en="Drop-off and pick-up traffic, double parking or manoeuvring cars at the school gate that "
            "endanger children.",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="traffic_behaviour",
        keywords=("school", "school gate", "schoolpoort", "school street", "schoolstraat", "école"),
    ),
    CategoryInfo(
        code=HazardCategory.CONSTRUCTION,
        label=LocalizedText(
            nl="Werf of wegenwerken", fr="Chantier ou travaux de voirie", en="Construction works"
        ),
        description=LocalizedText(
            nl="Wegenwerken of een bouwwerf die de inrichting verandert of fietsers en voetgangers langs "
            "een onveilige omleiding stuurt.",
            fr="Travaux de voirie ou chantier qui modifient l'aménagement ou imposent aux cyclistes et "
            "piétons une déviation dangereuse.",
            en="Road works or a building site that changes the layout or sends cyclists and pedestrians "
            "onto an unsafe detour.",
        ),
        sdm_sub_category="roadWorks",
        sdm_exact=True,
        open311_group="obstruction",
        keywords=(
            "road works",
            "construction",
            "detour",
            "wegenwerken",
            "werf",
            "omleiding",
            "chantier",
            "travaux",
        ),
    ),
    CategoryInfo(
        code=HazardCategory.OTHER,
        label=LocalizedText(nl="Andere", fr="Autre", en="Other"),
        description=LocalizedText(
            nl="Een andere gevaarlijke situatie; beschrijf ze kort.",
            fr="Toute autre situation dangereuse ; décrivez-la brièvement.",
            en="Any other dangerous situation; please describe it briefly.",
        ),
        sdm_sub_category="hazardOnRoad",
        sdm_exact=False,
        open311_group="other",
        keywords=("other", "andere", "autre"),
    ),
)

CATEGORIES: Final[Mapping[HazardCategory, CategoryInfo]] = MappingProxyType({c.code: c for c in _CATALOGUE})
"""The catalogue in display order (the order of `HazardCategory`)."""

SDM_TRAFFIC_SUB_CATEGORIES: Final[frozenset[str]] = frozenset(
    {
        "trafficJam",
        "carAccident",
        "carWrongDirection",
        "carStopped",
        "pothole",
        "roadClosed",
        "roadWorks",
        "hazardOnRoad",
        "injuredBiker",
        "pedestrianOnRoad",
        "bikerOnRoad",
        "tramApproaching",
        "crowdRisk",
    }
)
"""The traffic values of the SDM Alert `subCategory` enum (dataModel.Alert), to keep our mapping honest."""

_SDM_SEVERITY: Final[Mapping[int, str]] = MappingProxyType({1: "low", 2: "medium", 3: "high"})


def category_info(category: HazardCategory) -> CategoryInfo:
    return CATEGORIES[category]


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


def sdm_severity(severity: int) -> str:
    """Our 1..3 onto the SDM Alert `severity` enum; `informational` and `critical` stay unused."""
    return _SDM_SEVERITY[validate_severity(severity)]


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
