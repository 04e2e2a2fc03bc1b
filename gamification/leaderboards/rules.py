"""Challenge figures, fair team standings and consent-filtered individual leaderboards.

Fairness: a class of 30 always beats a class of 5 on totals, however hard the
five try, so teams are ranked by default on per-member figures (distance,
trips or active days divided by *all* members, not only the active ones) or
on participation (the share of members with at least one qualifying trip).
Counting every member in the denominator keeps a team from climbing by
leaving its less active members out.

Privacy: individuals appear only with the leaderboard consent and only by
nickname; no user id leaves this module in a standing. Everyone's trips still
count in their team's figures, since a team total reveals no one.
"""

from __future__ import annotations

import calendar
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from gamification.points.rules import DEFAULT_RULES, PointRules, is_qualifying_trip
from gamification.streaks import CITY_TZ, local_date
from geo.classify import TravelMode

Basis = Literal["per_member", "total"]
Period = Literal["week", "month"]
Scope = Literal["class", "school", "city"]
RANK_DECIMALS = 2
"""Values equal at the shown precision share a rank; float noise must not split a tie."""


class ChallengeMetric(StrEnum):
    """The wire spelling of ``metric`` in ``POST /challenges``."""

    DISTANCE = "distance"
    TRIPS = "trips"
    ACTIVE_DAYS = "activeDays"
    PARTICIPATION = "participation"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window ``[starts_at, ends_at)`` of aware datetimes."""

    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.ends_at <= self.starts_at:
            raise ValueError("a window must end after it starts")

    def __contains__(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


@dataclass(frozen=True, slots=True)
class Member:
    """One participant: the team they count for, the name they may be shown under, and their consent."""

    user_id: uuid.UUID
    team_id: uuid.UUID
    nickname: str
    leaderboard_consent: bool


@dataclass(frozen=True, slots=True)
class Trip:
    """A stored ride as the standings need it."""

    user_id: uuid.UUID
    started_at: datetime
    distance_m: float
    mode: TravelMode
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class MemberFigures:
    distance_km: float = 0.0
    trips: int = 0
    active_days: int = 0

    @property
    def participated(self) -> bool:
        return self.trips > 0


@dataclass(frozen=True, slots=True)
class Progress:
    target: float
    achieved: float
    fraction: float
    reached: bool


@dataclass(frozen=True, slots=True)
class TeamStanding:
    """One team's figures. ``per_member`` is per *member*, including the inactive ones.

    For participation, ``total`` is the number of active members and
    ``per_member`` the participation percentage.
    """

    team_id: uuid.UUID
    rank: int
    members: int
    active_members: int
    participation_pct: float
    total: float
    per_member: float
    value: float


@dataclass(frozen=True, slots=True)
class IndividualStanding:
    """A consenting participant, by nickname only; ``is_viewer`` lets the app highlight "you"."""

    rank: int
    nickname: str
    value: float
    is_viewer: bool = False


@dataclass(frozen=True, slots=True)
class Leaderboard:
    metric: ChallengeMetric
    teams: tuple[TeamStanding, ...]
    individuals: tuple[IndividualStanding, ...]
    progress: Progress | None


def member_figures(
    members: Iterable[Member],
    trips: Iterable[Trip],
    window: Window,
    *,
    rules: PointRules = DEFAULT_RULES,
    tz: ZoneInfo = CITY_TZ,
) -> dict[uuid.UUID, MemberFigures]:
    """Each member's qualifying distance, trips and active local days inside the window.

    Every member gets an entry, zero when inactive; trips of non-members are ignored.
    """
    ids = {m.user_id for m in members}
    distance: dict[uuid.UUID, float] = defaultdict(float)
    count: dict[uuid.UUID, int] = defaultdict(int)
    days: dict[uuid.UUID, set[date]] = defaultdict(set)
    for trip in trips:
        if trip.user_id not in ids or trip.started_at not in window:
            continue
        if not is_qualifying_trip(trip.distance_m, trip.mode, flagged=trip.flagged, rules=rules):
            continue
        distance[trip.user_id] += trip.distance_m / 1000
        count[trip.user_id] += 1
        days[trip.user_id].add(local_date(trip.started_at, tz))
    return {u: MemberFigures(distance[u], count[u], len(days[u])) for u in ids}


def individual_value(figures: MemberFigures, metric: ChallengeMetric) -> float:
    """One person's figure; participation has no individual share, so active days stand in for it."""
    if metric is ChallengeMetric.DISTANCE:
        return figures.distance_km
    if metric is ChallengeMetric.TRIPS:
        return float(figures.trips)
    return float(figures.active_days)


def competition_ranks(values: Sequence[float]) -> list[int]:
    """Ranks "1224" style for values already sorted best first; equal at the shown precision ties."""
    ranks: list[int] = []
    for i, value in enumerate(values):
        tied = i > 0 and round(value, RANK_DECIMALS) == round(values[i - 1], RANK_DECIMALS)
        ranks.append(ranks[-1] if tied else i + 1)
    return ranks


@dataclass(frozen=True, slots=True)
class TeamTotals:
    """A team's figures before ranking: its size, how many were active, and the metric summed.

    The service layer gets these straight from SQL for large scopes; for
    participation ``total`` is ignored (the active members are the figure).
    """

    team_id: uuid.UUID
    members: int
    active_members: int
    total: float


def _team_row(t: TeamTotals, participation: bool, basis: Basis) -> TeamStanding:
    pct = 100 * t.active_members / t.members if t.members else 0.0
    if participation:
        total, per_member = float(t.active_members), pct
    else:
        total = t.total
        per_member = total / t.members if t.members else 0.0
    value = per_member if basis == "per_member" else total
    return TeamStanding(t.team_id, 0, t.members, t.active_members, pct, total, per_member, value)


def rank_teams(
    totals: Iterable[TeamTotals], *, participation: bool = False, basis: Basis = "per_member"
) -> list[TeamStanding]:
    """Teams best first, ranked on per-member figures (default) or totals, ties sharing a rank."""
    rows = sorted(
        (_team_row(t, participation, basis) for t in totals),
        key=lambda r: (-round(r.value, RANK_DECIMALS), str(r.team_id)),
    )
    ranks = competition_ranks([r.value for r in rows])
    return [
        TeamStanding(
            r.team_id, k, r.members, r.active_members, r.participation_pct, r.total, r.per_member, r.value
        )
        for r, k in zip(rows, ranks, strict=True)
    ]


def team_standings(
    members: Iterable[Member],
    figures: Mapping[uuid.UUID, MemberFigures],
    metric: ChallengeMetric,
    basis: Basis = "per_member",
) -> list[TeamStanding]:
    """Teams best first, ranked on per-member figures (default) or totals, ties sharing a rank."""
    by_team: dict[uuid.UUID, list[MemberFigures]] = defaultdict(list)
    for m in members:
        by_team[m.team_id].append(figures.get(m.user_id, MemberFigures()))
    totals = (
        TeamTotals(
            team,
            len(figs),
            sum(f.participated for f in figs),
            sum(individual_value(f, metric) for f in figs),
        )
        for team, figs in by_team.items()
    )
    return rank_teams(totals, participation=metric is ChallengeMetric.PARTICIPATION, basis=basis)


@dataclass(frozen=True, slots=True)
class Shown:
    """One consenting person's figure before ranking (the service layer reads these from SQL)."""

    nickname: str
    value: float
    is_viewer: bool = False


def rank_individuals(rows: Iterable[Shown]) -> list[IndividualStanding]:
    """People with something to show, best first, ties sharing a rank and listed by nickname."""
    shown = sorted(
        (r for r in rows if r.value > 0),
        key=lambda r: (-round(r.value, RANK_DECIMALS), r.nickname.casefold()),
    )
    ranks = competition_ranks([r.value for r in shown])
    return [
        IndividualStanding(k, r.nickname, r.value, r.is_viewer) for r, k in zip(shown, ranks, strict=True)
    ]


def individual_standings(
    members: Iterable[Member],
    figures: Mapping[uuid.UUID, MemberFigures],
    metric: ChallengeMetric,
    *,
    viewer_id: uuid.UUID | None = None,
) -> list[IndividualStanding]:
    """Consenting members with something to show, by nickname, best first.

    Without the leaderboard consent a member is never listed, not even to
    themselves; a member with nothing yet is left out rather than shown last.
    """
    return rank_individuals(
        Shown(
            m.nickname,
            individual_value(figures.get(m.user_id, MemberFigures()), metric),
            is_viewer=viewer_id is not None and m.user_id == viewer_id,
        )
        for m in members
        if m.leaderboard_consent
    )


def progress(achieved: float, target: float | None) -> Progress | None:
    """How far a challenge is towards its optional target (``fraction`` may pass 1)."""
    if target is None:
        return None
    if target <= 0:
        raise ValueError("a target must be positive")
    return Progress(target, achieved, achieved / target, achieved >= target)


def challenge_achieved(figures: Mapping[uuid.UUID, MemberFigures], metric: ChallengeMetric) -> float:
    """The challenge-wide figure a target is measured against: a sum, or participation in percent."""
    if not figures:
        return 0.0
    if metric is ChallengeMetric.PARTICIPATION:
        return 100 * sum(f.participated for f in figures.values()) / len(figures)
    return sum(individual_value(f, metric) for f in figures.values())


def challenge_leaderboard(
    members: Sequence[Member],
    trips: Iterable[Trip],
    *,
    metric: ChallengeMetric,
    window: Window,
    target: float | None = None,
    basis: Basis = "per_member",
    viewer_id: uuid.UUID | None = None,
    rules: PointRules = DEFAULT_RULES,
    tz: ZoneInfo = CITY_TZ,
) -> Leaderboard:
    """Everything ``GET /challenges/{id}/leaderboard`` shows, from the roster and the trips.

    ``members`` is the whole roster of the scope (every class member, with or
    without consent); the target is in the metric's unit: km, trips, active
    days (summed over members), or percent of members participating.
    """
    figures = member_figures(members, trips, window, rules=rules, tz=tz)
    return Leaderboard(
        metric=metric,
        teams=tuple(team_standings(members, figures, metric, basis)),
        individuals=tuple(individual_standings(members, figures, metric, viewer_id=viewer_id)),
        progress=progress(challenge_achieved(figures, metric), target),
    )


def period_window(period: Period, today: date, tz: ZoneInfo = CITY_TZ) -> Window:
    """The local calendar week (Monday first) or month containing ``today``, as aware datetimes."""
    if period == "week":
        first = today - timedelta(days=today.weekday())
        after = first + timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = first + timedelta(days=calendar.monthrange(today.year, today.month)[1])
    return Window(
        datetime(first.year, first.month, first.day, tzinfo=tz),
        datetime(after.year, after.month, after.day, tzinfo=tz),
    )
