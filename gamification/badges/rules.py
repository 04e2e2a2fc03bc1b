"""Badges as declarative rules over a snapshot of a user's statistics.

A badge is data: a code, names and descriptions in the city's languages, and a
rule value such as ``Threshold(metric="total_km", at_least=10)``. One evaluator
reads every rule against a :class:`UserStats` snapshot, so adding a badge is
adding a row to :data:`CATALOGUE`, and the catalogue (``GET /badges``) can
show each rule's figures without a second description to keep in sync.

The service layer fills :class:`UserStats` with a few aggregates after each
event (ride, report confirmed, confirmation given) and calls :func:`evaluate`
with the codes the user already holds; :func:`stats_needs` says which early-bird
windows and area resolutions the catalogue asks it to count. Every figure
counts qualifying trips only (:func:`gamification.points.rules.is_qualifying_trip`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType
from typing import Any, Final, Literal, TypeVar

import h3

from domain.hazards.categories import LocalizedText

Metric = Literal["total_km", "bike_km", "walk_km", "rides", "active_days", "confirmations_given"]
TimeWindow = tuple[time, time]
_K = TypeVar("_K")


@dataclass(frozen=True, slots=True)
class FirstRide:
    """The first qualifying ride."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """A cumulative figure reaching ``at_least``."""

    metric: Metric
    at_least: float


@dataclass(frozen=True, slots=True)
class Streak:
    """Active on ``days`` consecutive local days (ever: a broken streak does not take the badge back)."""

    days: int


@dataclass(frozen=True, slots=True)
class ReportsConfirmed:
    """``at_least`` of the user's reports confirmed by someone else or acknowledged by a planner."""

    at_least: int


@dataclass(frozen=True, slots=True)
class EarlyBird:
    """``at_least`` qualifying rides started in ``[not_before, rides_before)`` local time.

    ``not_before`` keeps the ride home from a party at 01:00 from counting as early.
    """

    rides_before: time
    at_least: int
    not_before: time = time(5, 0)

    @property
    def window(self) -> TimeWindow:
        return (self.not_before, self.rides_before)


@dataclass(frozen=True, slots=True)
class Explorer:
    """Qualifying rides through ``distinct_areas`` distinct H3 cells at ``area_resolution``."""

    distinct_areas: int
    area_resolution: int


@dataclass(frozen=True, slots=True)
class SchoolHero:
    """``school_days`` distinct local days with a qualifying trip ending at the user's school."""

    school_days: int


Rule = FirstRide | Threshold | Streak | ReportsConfirmed | EarlyBird | Explorer | SchoolHero


@dataclass(frozen=True, slots=True)
class Badge:
    code: str
    name: LocalizedText
    description: LocalizedText
    rule: Rule


def _empty() -> Mapping[Any, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class UserStats:
    """One user's figures at one moment, all over qualifying trips and across all time.

    ``early_rides`` maps an :attr:`EarlyBird.window` to the number of rides
    started inside it; ``distinct_areas`` maps an H3 resolution to the number
    of distinct cells at that resolution the user's rides passed through.
    """

    rides: int = 0
    total_km: float = 0.0
    bike_km: float = 0.0
    walk_km: float = 0.0
    active_days: int = 0
    longest_streak: int = 0
    reports_confirmed: int = 0
    confirmations_given: int = 0
    school_days: int = 0
    early_rides: Mapping[TimeWindow, int] = field(default_factory=_empty)
    distinct_areas: Mapping[int, int] = field(default_factory=_empty)


class MissingStatistic(LookupError):
    """The snapshot lacks a figure a rule needs: a wiring bug, not a reason to silently withhold a badge."""


def _count(counts: Mapping[_K, int], key: _K, what: str) -> int:
    try:
        return counts[key]
    except KeyError:
        raise MissingStatistic(f"UserStats lacks {what} {key!r}; see stats_needs()") from None


def holds(rule: Rule, stats: UserStats) -> bool:
    """Whether the snapshot satisfies one rule."""
    match rule:
        case FirstRide():
            return stats.rides >= 1
        case Threshold(metric=metric, at_least=at_least):
            value: float = getattr(stats, metric)
            return value >= at_least
        case Streak(days=days):
            return stats.longest_streak >= days
        case ReportsConfirmed(at_least=at_least):
            return stats.reports_confirmed >= at_least
        case EarlyBird():
            return _count(stats.early_rides, rule.window, "early_rides") >= rule.at_least
        case Explorer(distinct_areas=wanted, area_resolution=res):
            return _count(stats.distinct_areas, res, "distinct_areas") >= wanted
        case SchoolHero(school_days=days):
            return stats.school_days >= days


def _t(nl: str, fr: str, en: str) -> LocalizedText:
    return LocalizedText(nl=nl, fr=fr, en=en)


CATALOGUE: Final[tuple[Badge, ...]] = (
    Badge(
        "first_ride",
        _t("Eerste rit", "Premier trajet", "First ride"),
        _t(
            "Je eerste rit te voet of met de fiets.",
            "Ton premier trajet à pied ou à vélo.",
            "Your first trip on foot or by bike.",
        ),
        FirstRide(),
    ),
    Badge(
        "km_10",
        _t("Op weg", "En route", "On your way"),
        _t("10 km te voet of met de fiets.", "10 km à pied ou à vélo.", "10 km on foot or by bike."),
        Threshold("total_km", 10),
    ),
    Badge(
        "km_100",
        _t("Doorzetter", "Persévérant", "Keeps going"),
        _t("100 km te voet of met de fiets.", "100 km à pied ou à vélo.", "100 km on foot or by bike."),
        Threshold("total_km", 100),
    ),
    Badge(
        "km_1000",
        _t("Kilometervreter", "Avaleur de kilomètres", "Distance devourer"),
        _t("1000 km te voet of met de fiets.", "1000 km à pied ou à vélo.", "1000 km on foot or by bike."),
        Threshold("total_km", 1000),
    ),
    Badge(
        "walker_10",
        _t("Stapper", "Marcheur", "Walker"),
        _t("10 km te voet.", "10 km à pied.", "10 km on foot."),
        Threshold("walk_km", 10),
    ),
    Badge(
        "streak_7",
        _t("Weekreeks", "Semaine complète", "Seven-day streak"),
        _t(
            "7 dagen na elkaar te voet of met de fiets.",
            "7 jours d'affilée à pied ou à vélo.",
            "On foot or by bike 7 days in a row.",
        ),
        Streak(7),
    ),
    Badge(
        "streak_30",
        _t("Maandreeks", "Mois complet", "Thirty-day streak"),
        _t(
            "30 dagen na elkaar te voet of met de fiets.",
            "30 jours d'affilée à pied ou à vélo.",
            "On foot or by bike 30 days in a row.",
        ),
        Streak(30),
    ),
    Badge(
        "hazard_spotter",
        _t("Gevarenspeurder", "Détecteur de dangers", "Hazard spotter"),
        _t(
            "3 van je meldingen werden bevestigd door anderen of opgepikt door de stad.",
            "3 de tes signalements ont été confirmés par d'autres ou pris en charge par la ville.",
            "3 of your reports were confirmed by others or taken up by the city.",
        ),
        ReportsConfirmed(3),
    ),
    Badge(
        "helping_hand",
        _t("Helpende hand", "Coup de main", "Helping hand"),
        _t(
            "10 meldingen van anderen nagekeken.",
            "10 signalements d'autres personnes vérifiés.",
            "Checked 10 reports by other people.",
        ),
        Threshold("confirmations_given", 10),
    ),
    Badge(
        "early_bird",
        _t("Vroege vogel", "Lève-tôt", "Early bird"),
        _t(
            "5 ritten vertrokken tussen 5 en 8 uur 's ochtends.",
            "5 trajets commencés entre 5 h et 8 h.",
            "5 trips started between 5 and 8 in the morning.",
        ),
        EarlyBird(rides_before=time(8, 0), at_least=5),
    ),
    Badge(
        "explorer",
        _t("Ontdekkingsreiziger", "Explorateur", "Explorer"),
        _t(
            "Door 25 verschillende buurten gereden of gewandeld (elk ongeveer 0,7 km²).",
            "Passé par 25 quartiers différents (d'environ 0,7 km² chacun).",
            "Rode or walked through 25 different neighbourhoods (about 0.7 km² each).",
        ),
        Explorer(distinct_areas=25, area_resolution=8),
    ),
    Badge(
        "school_hero",
        _t("Schoolheld", "Héros de l'école", "School hero"),
        _t(
            "Op 20 dagen te voet of met de fiets naar school.",
            "20 jours à l'école à pied ou à vélo.",
            "Walked or cycled to school on 20 days.",
        ),
        SchoolHero(school_days=20),
    ),
)

_BY_CODE: Final[Mapping[str, Badge]] = MappingProxyType({b.code: b for b in CATALOGUE})


def badge(code: str) -> Badge | None:
    """The catalogue entry of a stored code (None for a retired code)."""
    return _BY_CODE.get(code)


def evaluate(
    stats: UserStats, already_earned: Iterable[str], catalogue: Sequence[Badge] = CATALOGUE
) -> list[Badge]:
    """The badges the snapshot earns that the user does not hold yet, in catalogue order.

    Call it after each event with the holder's codes; persist the result under
    a unique ``(user, code)`` so a retried event cannot award a badge twice.
    """
    held = set(already_earned)
    return [b for b in catalogue if b.code not in held and holds(b.rule, stats)]


@dataclass(frozen=True, slots=True)
class StatsNeeds:
    """The keys :class:`UserStats` mappings must carry for a catalogue."""

    early_windows: frozenset[TimeWindow]
    area_resolutions: frozenset[int]


def stats_needs(catalogue: Sequence[Badge] = CATALOGUE) -> StatsNeeds:
    return StatsNeeds(
        early_windows=frozenset(b.rule.window for b in catalogue if isinstance(b.rule, EarlyBird)),
        area_resolutions=frozenset(b.rule.area_resolution for b in catalogue if isinstance(b.rule, Explorer)),
    )


# --- helpers that turn stored rows into figures ------------------------------------------------------------


def in_window(local_start: time, window: TimeWindow) -> bool:
    """Whether a ride's local start time lies in an early-bird window."""
    start, end = window
    return start <= local_start < end


def distinct_areas(cells: Iterable[str], resolution: int) -> int:
    """How many distinct parent cells at ``resolution`` the given (finer) cells lie in."""
    return len({h3.cell_to_parent(c, resolution) for c in cells})


_EXPLORER_AREAS: Final = {b.code: b.rule.area_resolution for b in CATALOGUE if isinstance(b.rule, Explorer)}
"""Each explorer badge's area resolution, by code."""


def open_explorer_resolutions(held: Iterable[str]) -> tuple[int, ...]:
    """The resolutions at which an explorer badge not in ``held`` still counts areas."""
    codes = set(held)
    return tuple(sorted({res for code, res in _EXPLORER_AREAS.items() if code not in codes}))


EXPLORER_RESOLUTIONS: Final = open_explorer_resolutions(())


def areas_of(cells: Iterable[str], resolutions: Iterable[int]) -> list[tuple[int, int]]:
    """The distinct ``(resolution, area)`` pairs of the given cells, areas as H3 integers, sorted.

    A cell coarser than a resolution has no area there and is skipped.
    """
    distinct = set(cells)
    return sorted(
        {
            (res, h3.str_to_int(h3.cell_to_parent(c, res)))
            for res in resolutions
            for c in distinct
            if h3.get_resolution(c) >= res
        }
    )


SCHOOL_AREA_RINGS: Final = 3
"""Ring count around the school's cell (res 10: ~400 m), wider than the 150-250 m end trimming."""


def school_area(school_cell: str, rings: int = SCHOOL_AREA_RINGS) -> frozenset[str]:
    """The cells in which a trip ending counts as arriving at school.

    A ride's stored path stops 150-250 m before its real end (privacy
    trimming), so the area must be wider than that.
    """
    return frozenset(h3.grid_disk(school_cell, rings))


def is_school_trip(cells: Sequence[str], area: frozenset[str]) -> bool:
    """Whether a ride's last stored cell lies in the school's area."""
    return bool(cells) and cells[-1] in area
