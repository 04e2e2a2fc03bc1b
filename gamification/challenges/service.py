"""Challenges and leaderboards applied to the database: who may see what, and the standings in SQL.

A scope's roster is every member, with or without consent (everyone counts in
team figures). Standings are read from the running totals that triggers keep
per user (:mod:`gamification.totals`: points per week and month, each
challenge's figures per participant), grouped per team in SQL, and only then
ranked by the pure rules of :mod:`gamification.standings`, so a city of 20 000 users
costs one statement that reads no raw ledger row (``bench/leaderboard.py``).
Individuals are read with the leaderboard consent *as it stands at read
time* (:func:`privacy.consent.consent_effective_for`), walking down the
ranking until enough consent: no cache, so a withdrawal takes the nickname off
at once. A challenge read with a non-default ``PointRules.min_trip_m`` (the
stored totals count the default) aggregates the raw rides over the roster instead.

Teams: the class in a class scope, the classes of a school, the schools of the
city. City-wide, every citizen is on the roster; one without a class is in no
team but still counts in the progress and may be listed as an individual.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.accounts.tables import User
from domain.core.enums import ConsentPurpose, Role
from domain.core.errors import Forbidden, InvalidInput, NotFound
from domain.schools import service as school_service
from domain.schools.tables import School, SchoolClass, SchoolStaff
from gamification.badges.store import local_day_sql, qualifying_sql
from gamification.leaderboards.rules import (
    ChallengeMetric,
    IndividualStanding,
    Period,
    Progress,
    Shown,
    TeamStanding,
    TeamTotals,
    period_window,
    progress,
    rank_individuals,
    rank_teams,
)
from gamification.leaderboards.store import (
    STORED_MIN_TRIP_M,
    board_statement,
    challenge_figures,
    people_rows,
    points_figures,
)
from gamification.points.rules import DEFAULT_RULES, AwardReason, PointRules, challenge_points
from gamification.streaks import local_date
from gamification.tables import Challenge, PointsEntry
from privacy.consent.store import effective_consent_subquery

Scope = Literal["class", "school", "city"]
MAX_WINDOW: Final = timedelta(days=366)
LIST_LIMIT: Final = 50
"""Individuals shown per leaderboard."""

_ROSTERS: Final[dict[str, str]] = {
    "class": "SELECT m.user_id, m.class_id AS team_id FROM class_membership m WHERE m.class_id = :scope_id",
    "school": (
        "SELECT m.user_id, m.class_id AS team_id FROM class_membership m"
        " JOIN school_class c ON c.id = m.class_id WHERE c.school_id = :scope_id"
    ),
    "city": (
        "SELECT u.id AS user_id, c.school_id AS team_id FROM app_user u"
        " LEFT JOIN class_membership m ON m.user_id = u.id LEFT JOIN school_class c ON c.id = m.class_id"
        " WHERE u.role = 'citizen'"
    ),
}
_RIDE_VALUES: Final[dict[ChallengeMetric, str]] = {
    ChallengeMetric.DISTANCE: "sum(r.distance_m) / 1000",
    ChallengeMetric.TRIPS: "count(*)::float8",
    ChallengeMetric.ACTIVE_DAYS: f"count(DISTINCT {local_day_sql('r.started_at')})::float8",
    ChallengeMetric.PARTICIPATION: f"count(DISTINCT {local_day_sql('r.started_at')})::float8",
}


@dataclass(frozen=True, slots=True)
class ChallengeDraft:
    scope: Scope
    metric: ChallengeMetric
    starts_at: datetime
    ends_at: datetime
    scope_id: uuid.UUID | None = None
    target: float | None = None
    name: str = ""


@dataclass(frozen=True, slots=True)
class Board:
    """Standings of one scope over one window; ``members``/``active``/``total`` span the whole roster."""

    scope: str
    scope_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime
    teams: list[TeamStanding]
    individuals: list[IndividualStanding]
    team_names: dict[uuid.UUID, str] = field(default_factory=dict)
    members: int = 0
    active: int = 0
    total: float = 0.0


@dataclass(frozen=True, slots=True)
class ChallengeBoard:
    challenge: Challenge
    board: Board
    achieved: float
    progress: Progress | None


# --- who is where --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Place:
    """A user's class and school (if any), and the schools they teach at."""

    class_id: uuid.UUID | None
    school_id: uuid.UUID | None
    staff_of: frozenset[uuid.UUID]
    admin: bool


async def place_of(session: AsyncSession, user: User) -> Place:
    member = (
        await session.execute(
            sa.text(
                "SELECT m.class_id, c.school_id FROM class_membership m"
                " JOIN school_class c ON c.id = m.class_id WHERE m.user_id = :user_id"
            ),
            {"user_id": user.id},
        )
    ).one_or_none()
    staff = await session.execute(
        sa.select(col(SchoolStaff.school_id)).where(col(SchoolStaff.user_id) == user.id)
    )
    return Place(
        class_id=member.class_id if member else None,
        school_id=member.school_id if member else None,
        staff_of=frozenset(staff.scalars()),
        admin=Role(user.role) is Role.ADMIN,
    )


def ensure_may_view(
    place: Place, scope: str, *, class_id: uuid.UUID | None, school_id: uuid.UUID | None
) -> None:
    """City: anyone signed in. A school: its pupils and staff. A class: its members and the school's staff."""
    if scope == "city" or place.admin or (school_id is not None and school_id in place.staff_of):
        return
    if scope == "school" and school_id is not None and place.school_id == school_id:
        return
    if scope == "class" and class_id is not None and place.class_id == class_id:
        return
    raise Forbidden(
        "Only the participants of this scope and their teachers see its standings.", code="not-a-participant"
    )


# --- challenges ----------------------------------------------------------------------------------------


def _check_draft(draft: ChallengeDraft) -> None:
    if draft.ends_at <= draft.starts_at:
        raise InvalidInput("endsAt", "A challenge must end after it starts.", code="invalid-window")
    if draft.ends_at - draft.starts_at > MAX_WINDOW:
        raise InvalidInput("endsAt", "A challenge lasts at most a year.", code="invalid-window")
    if draft.metric is ChallengeMetric.PARTICIPATION and draft.target is not None and draft.target > 100:
        raise InvalidInput("target", "A participation target is a percentage (at most 100).")
    if (draft.scope == "city") != (draft.scope_id is None):
        detail = (
            "A city challenge has no scopeId."
            if draft.scope == "city"
            else "Give the scopeId of the class or school."
        )
        raise InvalidInput("scopeId", detail)


async def create_challenge(
    session: AsyncSession, creator: User, draft: ChallengeDraft, *, now: datetime
) -> Challenge:
    """Teachers for their own school or its classes; admins for anything, the city included. Commits."""
    _check_draft(draft)
    admin = Role(creator.role) is Role.ADMIN
    school_id: uuid.UUID | None = None
    class_id: uuid.UUID | None = None
    if draft.scope == "city" and not admin:
        raise Forbidden("Only an admin creates city-wide challenges.", code="city-challenge-admin-only")
    if draft.scope == "school" and draft.scope_id is not None:
        if await session.get(School, draft.scope_id) is None:
            raise NotFound("There is no such school.", code="school-not-found")
        if not admin and draft.scope_id not in (await place_of(session, creator)).staff_of:
            raise Forbidden("Only teachers of this school create its challenges.", code="not-school-staff")
        school_id = draft.scope_id
    if draft.scope == "class" and draft.scope_id is not None:
        school_class = await school_service.class_for_staff(session, creator, draft.scope_id)
        school_id, class_id = school_class.school_id, school_class.id
    challenge = Challenge(
        name=draft.name.strip(),
        scope=draft.scope,
        school_id=school_id,
        class_id=class_id,
        metric=draft.metric.value,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        target=draft.target,
        created_by=creator.id,
        created_at=now,
    )
    session.add(challenge)
    await session.commit()
    return challenge


async def get_challenge(session: AsyncSession, challenge_id: uuid.UUID) -> Challenge:
    challenge = await session.get(Challenge, challenge_id)
    if challenge is None:
        raise NotFound("There is no challenge with this id.", code="challenge-not-found")
    return challenge


async def list_challenges(
    session: AsyncSession, *, limit: int, after: tuple[datetime, uuid.UUID] | None = None
) -> list[Challenge]:
    """Newest first, ties by id (keyset)."""
    query = sa.select(Challenge)
    if after is not None:
        query = query.where(sa.tuple_(col(Challenge.created_at), col(Challenge.id)) < sa.tuple_(*after))
    query = query.order_by(col(Challenge.created_at).desc(), col(Challenge.id).desc()).limit(limit)
    return list((await session.execute(query)).scalars())


# --- standings -----------------------------------------------------------------------------------------


def _roster(scope: str, scope_id: uuid.UUID | None) -> sa.Subquery:
    text = sa.text(_ROSTERS[scope]).columns(sa.column("user_id", sa.Uuid()), sa.column("team_id", sa.Uuid()))
    if scope != "city":
        text = text.bindparams(scope_id=scope_id)
    return text.subquery("roster")


def _figures(sql: str, **binds: object) -> sa.Subquery:
    text = sa.text(sql).columns(sa.column("user_id", sa.Uuid()), sa.column("value", sa.Float()))
    return text.bindparams(**binds).subquery("fig")


def _ride_figures(
    metric: ChallengeMetric, starts_at: datetime, ends_at: datetime, rules: PointRules
) -> sa.Subquery:
    sql = (
        f"SELECT r.user_id, {_RIDE_VALUES[metric]} AS value FROM ride r"  # noqa: S608 - constant fragments
        f" WHERE {qualifying_sql()} AND r.started_at >= :t0 AND r.started_at < :t1 GROUP BY r.user_id"
    )
    return _figures(sql, t0=starts_at, t1=ends_at, min_trip_m=rules.min_trip_m)


async def _team_names(session: AsyncSession, scope: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    table = School if scope == "city" else SchoolClass
    rows = await session.execute(sa.select(col(table.id), col(table.name)).where(col(table.id).in_(ids)))
    return {row.id: row.name for row in rows}


def _board_statement(
    roster: sa.CTE, fig: sa.CTE, *, viewer_id: uuid.UUID, now: datetime, limit: int
) -> sa.CompoundSelect[Any]:
    """Team rows and the top consenting people in one round trip; the roster and figures are computed once."""
    teams = (
        sa.select(
            sa.literal("t").label("kind"),
            roster.c.team_id,
            sa.func.count().label("members"),
            sa.func.count(fig.c.user_id).label("active"),
            sa.cast(sa.func.coalesce(sa.func.sum(fig.c.value), 0), sa.Float()).label("value"),
            sa.cast(sa.null(), sa.String()).label("nickname"),
            sa.cast(sa.null(), sa.Boolean()).label("me"),
        )
        .select_from(roster.outerjoin(fig, fig.c.user_id == roster.c.user_id))
        .group_by(roster.c.team_id)
    )
    consenting = effective_consent_subquery(ConsentPurpose.LEADERBOARD, local_date(now))
    top = (
        sa.select(fig.c.value, col(User.nickname).label("nickname"), (col(User.id) == viewer_id).label("me"))
        .select_from(
            fig.join(roster, roster.c.user_id == fig.c.user_id).join(User, col(User.id) == fig.c.user_id)
        )
        .where(fig.c.user_id.in_(consenting), fig.c.value > 0)
        .order_by(fig.c.value.desc(), sa.func.lower(col(User.nickname)))
        .limit(limit)
        .subquery("top")
    )
    return sa.union_all(teams, people_rows(top))


def _totals_of(rows: Any) -> tuple[list[TeamTotals], list[Shown]]:
    """Decode a board statement: whole team rows ("t"), or sizes ("m") and figures ("f") per team; people."""
    totals: list[TeamTotals] = []
    sizes: dict[uuid.UUID | None, int] = {}
    figures: dict[uuid.UUID | None, tuple[int, float]] = {}
    shown: list[Shown] = []
    for row in rows:
        if row.kind == "t":
            totals.append(TeamTotals(row.team_id, int(row.members), int(row.active), float(row.value)))
        elif row.kind == "m":
            sizes[row.team_id] = int(row.members)
        elif row.kind == "f":
            figures[row.team_id] = (int(row.active), float(row.value))
        else:
            shown.append(Shown(row.nickname, float(row.value), bool(row.me)))
    for team_id in sizes.keys() | figures.keys():
        active, total = figures.get(team_id, (0, 0.0))
        totals.append(TeamTotals(team_id, sizes.get(team_id, 0), active, total))  # type: ignore[arg-type]
    return totals, shown


async def _board(
    session: AsyncSession,
    statement: sa.CompoundSelect[Any],
    *,
    scope: str,
    scope_id: uuid.UUID | None,
    window: tuple[datetime, datetime],
    participation: bool,
) -> Board:
    totals, shown = _totals_of(await session.execute(statement))
    teams = [t for t in totals if t.team_id is not None]
    return Board(
        scope=scope,
        scope_id=scope_id,
        starts_at=window[0],
        ends_at=window[1],
        teams=rank_teams(teams, participation=participation),
        individuals=rank_individuals(shown),
        team_names=await _team_names(session, scope, [t.team_id for t in teams]),
        members=sum(t.members for t in totals),
        active=sum(t.active_members for t in totals),
        total=sum(t.total for t in totals),
    )


_UNPAID: Final = sa.text(
    "UPDATE challenge_total SET paid = true WHERE challenge_id = :challenge_id AND NOT paid RETURNING user_id"
).columns(sa.column("user_id", sa.Uuid()))
"""The stored participants still without the completion points, marked as paid (usually none: one probe)."""


async def _award_completion(
    session: AsyncSession,
    challenge: Challenge,
    contributors: sa.FromClause | None,
    amount: int,
    now: datetime,
) -> None:
    """Every contributing member earns the challenge points once: the ledger key is (user, challenge).

    ``contributors``: the members with a qualifying trip, from the raw rides; None when the standings
    came from the stored totals, which mark whom they paid, so only newcomers are offered the award.
    """
    if contributors is None:
        contributors = _UNPAID.bindparams(challenge_id=challenge.id).cte("unpaid")
    day = local_date(min(now, challenge.ends_at - timedelta(microseconds=1)))
    rows = sa.select(
        sa.func.gen_random_uuid(),
        contributors.c.user_id,
        sa.literal(amount, sa.Integer()),
        sa.literal(AwardReason.CHALLENGE.value, sa.String()),
        sa.literal(str(challenge.id), sa.String()),
        sa.literal(day, sa.Date()),
        sa.literal(now, sa.DateTime(timezone=True)),
    ).select_from(contributors)
    columns = ["id", "user_id", "amount", "reason", "source", "day", "created_at"]
    statement = (
        insert(PointsEntry)
        .from_select(columns, rows)
        .on_conflict_do_nothing(constraint="uq_points_entry_award")
    )
    await session.execute(statement)
    await session.commit()


def _challenge_figures(
    challenge: Challenge,
    metric: ChallengeMetric,
    rules: PointRules,
    *,
    viewer_id: uuid.UUID,
    now: datetime,
    limit: int,
) -> tuple[sa.CompoundSelect[Any], sa.FromClause | None]:
    """The board statement and the contributing members: from the stored totals (members: None, the
    totals know whom they paid), or the raw rides when ``rules`` count trips the totals do not
    (another ``min_trip_m``)."""
    if rules.min_trip_m == STORED_MIN_TRIP_M:
        figures = challenge_figures(challenge.id)
        statement = board_statement(
            figures,
            challenge.scope,
            challenge.scope_id,
            viewer_id=viewer_id,
            now=now,
            limit=limit,
        )
        return statement, None
    fig = _ride_figures(metric, challenge.starts_at, challenge.ends_at, rules)
    roster = _roster(challenge.scope, challenge.scope_id)
    statement = _board_statement(
        roster.element.cte("roster"), fig.element.cte("fig"), viewer_id=viewer_id, now=now, limit=limit
    )
    return statement, fig.join(roster, roster.c.user_id == fig.c.user_id)


async def challenge_leaderboard(
    session: AsyncSession,
    viewer: User,
    challenge_id: uuid.UUID,
    *,
    now: datetime,
    rules: PointRules = DEFAULT_RULES,
    limit: int = LIST_LIMIT,
) -> ChallengeBoard:
    """Teams (per member), consenting individuals by nickname, progress; pays the target once reached."""
    challenge = await get_challenge(session, challenge_id)
    ensure_may_view(
        await place_of(session, viewer),
        challenge.scope,
        class_id=challenge.class_id,
        school_id=challenge.school_id,
    )
    metric = ChallengeMetric(challenge.metric)
    statement, contributors = _challenge_figures(
        challenge, metric, rules, viewer_id=viewer.id, now=now, limit=limit
    )
    participation = metric is ChallengeMetric.PARTICIPATION
    board = await _board(
        session,
        statement,
        scope=challenge.scope,
        scope_id=challenge.scope_id,
        window=(challenge.starts_at, challenge.ends_at),
        participation=participation,
    )
    if participation:
        achieved = 100 * board.active / board.members if board.members else 0.0
    else:
        achieved = board.total
    reached = progress(achieved, challenge.target)
    amount = challenge_points(
        target_reached=reached is not None and reached.reached, contributed=True, rules=rules
    )
    if amount:
        await _award_completion(session, challenge, contributors, amount, now)
    return ChallengeBoard(challenge, board, achieved, reached)


async def _resolve_scope(
    session: AsyncSession, viewer: User, scope: Scope, scope_id: uuid.UUID | None
) -> tuple[uuid.UUID | None, Place]:
    place = await place_of(session, viewer)
    if scope == "city":
        return None, place
    if scope == "class":
        class_id = scope_id or place.class_id
        school_class = await session.get(SchoolClass, class_id) if class_id else None
        if school_class is None:
            raise NotFound("There is no such class among yours.", code="class-not-found")
        ensure_may_view(place, "class", class_id=school_class.id, school_id=school_class.school_id)
        return school_class.id, place
    school_id = (
        scope_id or place.school_id or (next(iter(place.staff_of)) if len(place.staff_of) == 1 else None)
    )
    if school_id is None:
        raise InvalidInput("scopeId", "Give the scopeId of the school.", code="scope-required")
    ensure_may_view(place, "school", class_id=None, school_id=school_id)
    return school_id, place


async def leaderboards(
    session: AsyncSession,
    viewer: User,
    *,
    scope: Scope,
    period: Period,
    scope_id: uuid.UUID | None = None,
    now: datetime,
    limit: int = LIST_LIMIT,
) -> Board:
    """Points earned this local week or month: teams per member, consenting individuals by nickname.

    Without ``scope_id`` a pupil sees their own class or school, a teacher of one school that school.
    """
    resolved, _ = await _resolve_scope(session, viewer, scope, scope_id)
    window = period_window(period, local_date(now))
    figures = points_figures(period, window.starts_at.date(), scope, resolved)
    statement = board_statement(figures, scope, resolved, viewer_id=viewer.id, now=now, limit=limit)
    return await _board(
        session,
        statement,
        scope=scope,
        scope_id=resolved,
        window=(window.starts_at.astimezone(UTC), window.ends_at.astimezone(UTC)),
        participation=False,
    )
