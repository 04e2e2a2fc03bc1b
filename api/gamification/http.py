"""Points, badges, challenges and leaderboards over HTTP (docs/gamification.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from api.gamification.wire import (
    CatalogueBadge,
    ChallengeCreate,
    ChallengeLeaderboardOut,
    ChallengeOut,
    EarnedBadge,
    LeaderboardOut,
    PointsLedger,
    catalogue_badge,
    challenge_leaderboard_out,
    challenge_out,
    earned_badge,
    entry_out,
    leaderboard_out,
)
from api.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_time_id_cursor, encode_cursor
from api.security import Caller, authenticated, requires_role
from domain.accounts.tables import User
from domain.core.columns import utcnow
from domain.core.enums import Role
from gamification.badges.rules import CATALOGUE
from gamification.badges.service import badges_of
from gamification.challenges import service as challenges
from gamification.challenges.rules import ChallengeDraft
from gamification.leaderboards.rules import Period, Scope
from gamification.leaderboards.service import leaderboards
from gamification.points import service as gamification

ChallengeId = Annotated[uuid.UUID, PathParameter(description="the challenge id")]
ScopeQuery = Annotated[Scope, QueryParameter(name="scope", description="city, school or class")]
PeriodQuery = Annotated[Period, QueryParameter(description="the local calendar week (Monday first) or month")]
ScopeIdQuery = Annotated[
    uuid.UUID | None,
    QueryParameter(name="scopeId", description="the class or school; default: the caller's own"),
]


class PointsController(Controller):
    path = "/me"
    tags = ["gamification"]
    guards = [authenticated]

    @get("/points", summary="My points: the total and the ledger, newest first")
    async def points(
        self,
        db_session: NamedDependency[AsyncSession],
        caller: NamedDependency[Caller],
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PointsLedger:
        entries = await gamification.points_ledger(
            db_session, caller.id, limit=limit + 1, after=decode_time_id_cursor(cursor)
        )
        more, entries = len(entries) > limit, entries[:limit]
        next_cursor = encode_cursor(entries[-1].created_at, entries[-1].id) if more else None
        total = await gamification.points_total(db_session, caller.id)
        return PointsLedger(total=total, items=[entry_out(e) for e in entries], next_cursor=next_cursor)

    @get("/badges", summary="My badges, in catalogue order")
    async def badges(
        self, db_session: NamedDependency[AsyncSession], caller: NamedDependency[Caller]
    ) -> list[EarnedBadge]:
        return [earned_badge(b, at) for b, at in await badges_of(db_session, caller.id)]


@get("/badges", tags=["gamification"], summary="The badge catalogue with each rule's figures")
async def badge_catalogue() -> list[CatalogueBadge]:
    return [catalogue_badge(b) for b in CATALOGUE]


@get(
    "/leaderboards",
    tags=["gamification"],
    guards=[authenticated],
    summary="Points this week or month: teams per member, individuals by nickname with consent",
)
async def leaderboard(
    db_session: NamedDependency[AsyncSession],
    current_user: NamedDependency[User],
    board_scope: ScopeQuery = "city",
    period: PeriodQuery = "week",
    scope_id: ScopeIdQuery = None,
) -> LeaderboardOut:
    board = await leaderboards(
        db_session, current_user, scope=board_scope, period=period, scope_id=scope_id, now=utcnow()
    )
    return leaderboard_out(board, period=period)


class ChallengesController(Controller):
    path = "/challenges"
    tags = ["gamification"]

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        guards=[authenticated, requires_role(Role.TEACHER, Role.ADMIN)],
        summary="Create a challenge: teachers for their school or its classes, admins for anything",
    )
    async def create(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: JSONBody[ChallengeCreate],
    ) -> ChallengeOut:
        draft = ChallengeDraft(
            scope=data.scope,
            metric=data.metric,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            scope_id=data.scope_id,
            target=data.target,
            name=data.name,
        )
        return challenge_out(await challenges.create_challenge(db_session, current_user, draft, now=utcnow()))

    @get("/", summary="Challenges, newest first")
    async def list_challenges(
        self, db_session: NamedDependency[AsyncSession], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> Page[ChallengeOut]:
        found = await challenges.list_challenges(
            db_session, limit=limit + 1, after=decode_time_id_cursor(cursor)
        )
        more, found = len(found) > limit, found[:limit]
        next_cursor = encode_cursor(found[-1].created_at, found[-1].id) if more else None
        return Page(items=[challenge_out(c) for c in found], next_cursor=next_cursor)

    @get("/{challenge_id:uuid}", summary="One challenge")
    async def read(
        self, db_session: NamedDependency[AsyncSession], challenge_id: ChallengeId
    ) -> ChallengeOut:
        return challenge_out(await challenges.get_challenge(db_session, challenge_id))

    @get(
        "/{challenge_id:uuid}/leaderboard",
        guards=[authenticated],
        summary="Team standings (per member) and consenting individuals by nickname; participants only",
    )
    async def leaderboard(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        challenge_id: ChallengeId,
    ) -> ChallengeLeaderboardOut:
        board = await challenges.challenge_leaderboard(db_session, current_user, challenge_id, now=utcnow())
        return challenge_leaderboard_out(board)
