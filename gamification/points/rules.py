"""Point rules as data, and the pure functions that apply them.

Points reward the behaviour the city wants more of: walking and cycling, and
hazard reports that turn out to be *useful* (confirmed by someone else or
acknowledged by a planner), never merely filed, so that spamming reports earns
nothing. Every amount and cap is a field of :class:`PointRules`, whose defaults
are explained in ``docs/gamification.md``; a city changes them by passing
another instance, not by editing code.

The functions here never read a clock or a database: the caller passes what
was already awarded today (in the city's time zone, see
:mod:`gamification.streaks`) and gets back the amount to write to the ledger.
Each ledger entry is keyed by ``(user, reason, source)`` so that a retried
transaction cannot award twice; :class:`AwardReason` names the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from geo.classify import TravelMode


class AwardReason(StrEnum):
    """Why a ledger entry exists; stored, so never rename a value.

    The source it points at: ``ride`` a ride id, ``report_confirmed`` and
    ``report_acknowledged`` a hazard report id, ``confirmation`` a confirmation
    id, ``streak`` the local date the milestone was reached, ``challenge`` a
    challenge id.
    """

    RIDE = "ride"
    REPORT_CONFIRMED = "report_confirmed"
    REPORT_ACKNOWLEDGED = "report_acknowledged"
    CONFIRMATION = "confirmation"
    STREAK = "streak"
    CHALLENGE = "challenge"


def _default_points_per_km() -> Mapping[TravelMode, int]:
    return MappingProxyType({TravelMode.WALK: 20, TravelMode.BIKE: 10, TravelMode.MOTORISED: 0})


@dataclass(frozen=True, slots=True)
class PointRules:
    """Every amount, cap and threshold of the points system (reasons in docs/gamification.md)."""

    points_per_km: Mapping[TravelMode, int] = field(default_factory=_default_points_per_km)
    daily_ride_cap: int = 300
    min_trip_m: float = 300.0
    report_confirmed_points: int = 20
    report_acknowledged_points: int = 30
    confirmation_points: int = 2
    daily_confirmation_cap: int = 10
    streak_bonus_every_days: int = 7
    streak_bonus_points: int = 25
    challenge_target_points: int = 50

    def __post_init__(self) -> None:
        if any(v < 0 for v in self.points_per_km.values()):
            raise ValueError("points_per_km must not be negative")
        if self.streak_bonus_every_days < 1:
            raise ValueError("streak_bonus_every_days must be at least 1")
        for name in (
            "daily_ride_cap",
            "report_confirmed_points",
            "report_acknowledged_points",
            "confirmation_points",
            "daily_confirmation_cap",
            "streak_bonus_points",
            "challenge_target_points",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


DEFAULT_RULES = PointRules()


def is_qualifying_trip(distance_m: float, mode: TravelMode, *, flagged: bool, rules: PointRules) -> bool:
    """Whether a ride counts at all: walked or cycled, not flagged by anti-cheat, and long enough.

    The same predicate decides ride points, active days, streaks, challenge
    trips and participation, so that every figure a user sees agrees.
    """
    return not flagged and mode is not TravelMode.MOTORISED and distance_m >= rules.min_trip_m


def _under_cap(amount: int, already_today: int, cap: int) -> int:
    return max(0, min(amount, cap - max(0, already_today)))


def ride_points(
    distance_m: float,
    mode: TravelMode,
    points_already_today: int,
    rules: PointRules = DEFAULT_RULES,
    *,
    flagged: bool = False,
) -> int:
    """Points for one ride: whole points for the validated distance, cut to what the daily cap leaves.

    ``points_already_today`` is the sum of today's ride entries in the ledger
    (local day). Rounding down means splitting a ride into pieces cannot earn
    more than riding it in one go.
    """
    if not is_qualifying_trip(distance_m, mode, flagged=flagged, rules=rules):
        return 0
    raw = int(distance_m * rules.points_per_km.get(mode, 0) // 1000)
    return _under_cap(raw, points_already_today, rules.daily_ride_cap)


def report_confirmed_points(*, confirmed_by_reporter: bool, rules: PointRules = DEFAULT_RULES) -> int:
    """Points for the reporter when another user confirms the report (a self-confirmation earns nothing)."""
    return 0 if confirmed_by_reporter else rules.report_confirmed_points


def report_acknowledged_points(rules: PointRules = DEFAULT_RULES) -> int:
    """Points for the reporter when a planner acknowledges the hazard: the report proved useful."""
    return rules.report_acknowledged_points


def confirmation_points(
    confirmations_points_today: int, *, own_report: bool, rules: PointRules = DEFAULT_RULES
) -> int:
    """Small points for confirming or disputing someone else's report, under a daily cap.

    Both answers help (a "gone" keeps the map honest), so both earn the same;
    the cap keeps tapping through the map from becoming a points farm.
    """
    if own_report:
        return 0
    return _under_cap(rules.confirmation_points, confirmations_points_today, rules.daily_confirmation_cap)


def streak_bonus(current_streak_days: int, rules: PointRules = DEFAULT_RULES) -> int:
    """The bonus due on the day a streak reaches a milestone (every ``streak_bonus_every_days`` days).

    Paid once per milestone day: the ledger source is that local date.
    """
    if current_streak_days <= 0 or current_streak_days % rules.streak_bonus_every_days:
        return 0
    return rules.streak_bonus_points


def challenge_points(*, target_reached: bool, contributed: bool, rules: PointRules = DEFAULT_RULES) -> int:
    """Points for each member who contributed a qualifying trip when the team reached the target."""
    return rules.challenge_target_points if target_reached and contributed else 0
