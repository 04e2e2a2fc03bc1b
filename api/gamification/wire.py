"""Points, badges, challenges and leaderboards on the wire (camelCase), and the shaping of answers.

No user id or handle appears in any standing: individuals are nicknames, and
``isYou`` lets the app highlight the caller.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import msgspec

from api.wire import Out, Strict
from domain.hazards.categories import LocalizedText
from gamification.badges.rules import (
    Badge,
    EarlyBird,
    Explorer,
    FirstRide,
    ReportsConfirmed,
    SchoolHero,
    Streak,
    Threshold,
)
from gamification.challenges.service import ChallengeBoard
from gamification.leaderboards.rules import (
    ChallengeMetric,
    IndividualStanding,
    Period,
    Progress,
    Scope,
    TeamStanding,
)
from gamification.leaderboards.service import Board
from gamification.tables import Challenge, PointsEntry


class Texts(Out):
    nl: str
    fr: str
    en: str


class BadgeOut(Out):
    code: str
    name: Texts
    description: Texts


class CatalogueBadge(BadgeOut):
    rule: dict[str, Any]


class EarnedBadge(BadgeOut):
    awarded_at: datetime


class PointsEntryOut(Out):
    amount: int
    reason: str
    source: str
    day: date
    created_at: datetime


class PointsLedger(Out):
    total: int
    items: list[PointsEntryOut]
    next_cursor: str | None = None


class ChallengeCreate(Strict):
    scope: Scope
    metric: ChallengeMetric
    starts_at: Annotated[datetime, msgspec.Meta(tz=True)]
    ends_at: Annotated[datetime, msgspec.Meta(tz=True)]
    scope_id: uuid.UUID | None = None
    target: float | None = None  # positive: checked with the window and scope (422)
    name: Annotated[str, msgspec.Meta(max_length=80)] = ""


class ChallengeOut(Out):
    id: uuid.UUID
    name: str
    scope: str
    scope_id: uuid.UUID | None
    school_id: uuid.UUID | None
    metric: str
    starts_at: datetime
    ends_at: datetime
    target: float | None
    created_at: datetime


class TeamOut(Out):
    """A class (or, city-wide, a school); `perMember` divides by every member, active or not."""

    team_id: uuid.UUID
    name: str
    rank: int
    members: int
    active_members: int
    participation_pct: float
    total: float
    per_member: float
    value: float


class PersonOut(Out):
    rank: int
    nickname: str
    value: float
    is_you: bool


class ProgressOut(Out):
    target: float
    achieved: float
    fraction: float
    reached: bool


class ChallengeLeaderboardOut(Out):
    challenge: ChallengeOut
    metric: str
    basis: Literal["per_member"]
    window_starts_at: datetime
    window_ends_at: datetime
    teams: list[TeamOut]
    individuals: list[PersonOut]
    progress: ProgressOut | None
    achieved: float


class LeaderboardOut(Out):
    scope: str
    scope_id: uuid.UUID | None
    period: Period
    metric: Literal["points"]
    starts_at: datetime
    ends_at: datetime
    teams: list[TeamOut]
    individuals: list[PersonOut]


def texts(text: LocalizedText) -> Texts:
    return Texts(nl=text.nl, fr=text.fr, en=text.en)


def rule_of(b: Badge) -> dict[str, Any]:
    """The rule's figures, so the app can show "3 / 5 early rides" without a second description."""
    match b.rule:
        case FirstRide():
            return {"type": "firstRide"}
        case Threshold(metric=metric, at_least=at_least):
            return {"type": "threshold", "metric": metric, "atLeast": at_least}
        case Streak(days=days):
            return {"type": "streak", "days": days}
        case ReportsConfirmed(at_least=at_least):
            return {"type": "reportsConfirmed", "atLeast": at_least}
        case EarlyBird(rides_before=before, at_least=at_least, not_before=after):
            return {
                "type": "earlyBird",
                "notBefore": after.isoformat(),
                "ridesBefore": before.isoformat(),
                "atLeast": at_least,
            }
        case Explorer(distinct_areas=areas, area_resolution=res):
            return {"type": "explorer", "distinctAreas": areas, "areaResolution": res}
        case SchoolHero(school_days=days):
            return {"type": "schoolHero", "schoolDays": days}


def badge_out(b: Badge) -> BadgeOut:
    return BadgeOut(code=b.code, name=texts(b.name), description=texts(b.description))


def catalogue_badge(b: Badge) -> CatalogueBadge:
    return CatalogueBadge(code=b.code, name=texts(b.name), description=texts(b.description), rule=rule_of(b))


def earned_badge(b: Badge, at: datetime) -> EarnedBadge:
    return EarnedBadge(code=b.code, name=texts(b.name), description=texts(b.description), awarded_at=at)


def entry_out(e: PointsEntry) -> PointsEntryOut:
    return PointsEntryOut(
        amount=e.amount, reason=e.reason, source=e.source, day=e.day, created_at=e.created_at
    )


def challenge_out(c: Challenge) -> ChallengeOut:
    return ChallengeOut(
        id=c.id,
        name=c.name,
        scope=c.scope,
        scope_id=c.scope_id,
        school_id=c.school_id,
        metric=c.metric,
        starts_at=c.starts_at,
        ends_at=c.ends_at,
        target=c.target,
        created_at=c.created_at,
    )


def _team(t: TeamStanding, names: dict[uuid.UUID, str]) -> TeamOut:
    return TeamOut(
        team_id=t.team_id,
        name=names.get(t.team_id, ""),
        rank=t.rank,
        members=t.members,
        active_members=t.active_members,
        participation_pct=round(t.participation_pct, 1),
        total=round(t.total, 2),
        per_member=round(t.per_member, 2),
        value=round(t.value, 2),
    )


def _person(p: IndividualStanding) -> PersonOut:
    return PersonOut(rank=p.rank, nickname=p.nickname, value=round(p.value, 2), is_you=p.is_viewer)


def _progress(p: Progress | None) -> ProgressOut | None:
    if p is None:
        return None
    return ProgressOut(
        target=p.target, achieved=round(p.achieved, 2), fraction=round(p.fraction, 4), reached=p.reached
    )


def challenge_leaderboard_out(board: ChallengeBoard) -> ChallengeLeaderboardOut:
    b = board.board
    return ChallengeLeaderboardOut(
        challenge=challenge_out(board.challenge),
        metric=board.challenge.metric,
        basis="per_member",
        window_starts_at=b.starts_at,
        window_ends_at=b.ends_at,
        teams=[_team(t, b.team_names) for t in b.teams],
        individuals=[_person(p) for p in b.individuals],
        progress=_progress(board.progress),
        achieved=round(board.achieved, 2),
    )


def leaderboard_out(b: Board, *, period: Period) -> LeaderboardOut:
    return LeaderboardOut(
        scope=b.scope,
        scope_id=b.scope_id,
        period=period,
        metric="points",
        starts_at=b.starts_at,
        ends_at=b.ends_at,
        teams=[_team(t, b.team_names) for t in b.teams],
        individuals=[_person(p) for p in b.individuals],
    )
