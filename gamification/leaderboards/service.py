"""Leaderboards applied to the database: who may see which scope, and the standings read in SQL.

A scope's roster is every member, with or without consent (everyone counts in
team figures). Standings are read from the running totals that triggers keep
per user (:mod:`gamification.leaderboards.store`: points per week and month,
each challenge's figures per participant), grouped per team in SQL, and only
then ranked by the pure rules of :mod:`gamification.leaderboards.rules`, so a
city of 20 000 users costs one statement that reads no raw ledger row
(``bench/leaderboard.py``). Individuals are read with the leaderboard consent
*as it stands at read time* (:func:`privacy.consent.store.consent_effective_for`),
walking down the ranking until enough consent: no cache, so a withdrawal takes
the nickname off at once.

Teams: the class in a class scope, the classes of a school, the schools of the
city. City-wide, every citizen is on the roster; one without a class is in no
team but still counts in the progress and may be listed as an individual.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.accounts.tables import User
from domain.core.enums import Role
from domain.core.errors import Forbidden, InvalidInput, NotFound
from domain.schools.tables import School, SchoolClass, SchoolStaff
from gamification.leaderboards.rules import (
    IndividualStanding,
    Period,
    Scope,
    Shown,
    TeamStanding,
    TeamTotals,
    period_window,
    rank_individuals,
    rank_teams,
)
from gamification.leaderboards.store import (
    board_statement,
    points_figures,
)
from gamification.streaks import local_date

LIST_LIMIT: Final = 50
"""Individuals shown per leaderboard."""


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


async def _team_names(session: AsyncSession, scope: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    table = School if scope == "city" else SchoolClass
    rows = await session.execute(sa.select(col(table.id), col(table.name)).where(col(table.id).in_(ids)))
    return {row.id: row.name for row in rows}


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


async def board(
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
    return await board(
        session,
        statement,
        scope=scope,
        scope_id=resolved,
        window=(window.starts_at.astimezone(UTC), window.ends_at.astimezone(UTC)),
        participation=False,
    )
