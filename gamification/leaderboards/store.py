"""Standings read from stored running totals instead of the raw ledger and rides.

``points_period_total`` (migration 0008) holds each user's points per local
week and month; ``challenge_total`` (migration 0009) each participant's
qualifying rides in one challenge's window, with the figure of its metric.
Triggers keep both in the transaction of every ledger entry, ride or class
change, so they always equal the aggregates they replace. Each row also
carries the user's class and whether they are a citizen, which is what a
roster asks:

- class: the rows of that class; school: the rows of its classes; city: the
  rows of citizens (with or without a class);
- a team's figures are those rows grouped by class (city: by the class's
  school), so no standing joins the 20 000 members of a city.

Team sizes still come from ``class_membership`` (city: citizens in no class
are the citizens minus the class members; only citizens join a class, see
``domain.schools.service.join_class``). The stored challenge rows count rides
of at least the default ``PointRules.min_trip_m`` (:data:`STORED_MIN_TRIP_M`);
a caller with another minimum reads the raw rides (``gamification.challenges``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col

from domain.accounts.tables import User
from domain.core.enums import ConsentPurpose
from gamification.leaderboards.rules import Period
from gamification.streaks import local_date
from privacy.consent.store import consent_effective_for

STORED_MIN_TRIP_M: Final = 300
"""The minimum trip the challenge_total triggers count (migration 0009): PointRules' default."""

_SCOPE_FILTERS: Final[dict[str, str]] = {
    "class": "class_id = :scope_id",
    "school": "class_id IN (SELECT sc.id FROM school_class sc WHERE sc.school_id = :scope_id)",
    "city": "citizen",
}
MEMBERS: Final[dict[str, str]] = {
    "class": (
        "SELECT m.class_id AS team_id, count(*) AS members FROM class_membership m"
        " WHERE m.class_id = :scope_id GROUP BY m.class_id"
    ),
    "school": (
        "SELECT team_id, members FROM (SELECT c.id AS team_id,"
        " (SELECT count(*) FROM class_membership m WHERE m.class_id = c.id) AS members"
        " FROM school_class c WHERE c.school_id = :scope_id) t WHERE members > 0"
    ),
    "city": (
        "WITH per_school AS MATERIALIZED (SELECT c.school_id AS team_id,"
        " sum((SELECT count(*) FROM class_membership m WHERE m.class_id = c.id))::bigint AS members"
        " FROM school_class c GROUP BY c.school_id)"
        " SELECT team_id, members FROM per_school WHERE members > 0 UNION ALL"
        " SELECT NULL, (SELECT count(*) FROM app_user WHERE role = 'citizen')"
        " - (SELECT coalesce(sum(members), 0) FROM per_school)"
    ),
}
"""Each team's size: the roster of ``gamification.challenges`` counted per team, without listing it."""


@dataclass(frozen=True, slots=True)
class FiguresSql:
    """A SELECT of ``user_id, class_id, value`` (value > 0) for the users of one scope, and its binds."""

    sql: str
    binds: dict[str, object]


def _scope_binds(scope: str, scope_id: uuid.UUID | None) -> dict[str, object]:
    return {} if scope == "city" else {"scope_id": scope_id}


def points_figures(period: Period, starts_on: date, scope: str, scope_id: uuid.UUID | None) -> FiguresSql:
    """Points of one local week or month per user of the scope: one stored row each."""
    sql = (
        "SELECT user_id, class_id, amount AS value FROM points_period_total"  # noqa: S608
        f" WHERE period = :period AND starts_on = :starts_on AND {_SCOPE_FILTERS[scope]}"
    )
    return FiguresSql(sql, {"period": period, "starts_on": starts_on, **_scope_binds(scope, scope_id)})


def challenge_figures(challenge_id: uuid.UUID) -> FiguresSql:
    """A challenge's figure per participant: its stored rows, best first in the index. The triggers
    give rows to the members of the challenge's scope only, so no roster filter is needed here."""
    return FiguresSql(
        "SELECT user_id, class_id, value FROM challenge_total WHERE challenge_id = :challenge_id",
        {"challenge_id": challenge_id},
    )


def board_statement(
    figures: FiguresSql,
    scope: str,
    scope_id: uuid.UUID | None,
    *,
    viewer_id: uuid.UUID,
    now: datetime,
    limit: int,
) -> sa.CompoundSelect[Any]:
    """Team sizes ("m" rows), team figures ("f") and the top consenting people ("p"), in one round trip.

    People: the figures best first, each checked against the leaderboard
    consent as it stands now (one index probe) until ``limit`` are found, so
    a city board reads its best few dozen users, not all of them. The
    figures are not materialised, so each branch reads the stored rows in
    the index order it needs.
    """
    fig = (
        sa.text(figures.sql)
        .bindparams(**figures.binds)
        .columns(
            sa.column("user_id", sa.Uuid()),
            sa.column("class_id", sa.Uuid()),
            sa.column("value", sa.Float()),
        )
        .cte("fig")
        .prefix_with("NOT MATERIALIZED")
    )
    members_text = sa.text(MEMBERS[scope]).columns(sa.column("team_id", sa.Uuid()), sa.column("members"))
    if scope != "city":
        members_text = members_text.bindparams(scope_id=scope_id)
    members = members_text.subquery("members")
    per_class = (
        sa.select(fig.c.class_id, sa.func.count().label("active"), sa.func.sum(fig.c.value).label("total"))
        .group_by(fig.c.class_id)
        .subquery("per_class")
    )
    if scope == "city":
        school_class = sa.table("school_class", sa.column("id", sa.Uuid()), sa.column("school_id", sa.Uuid()))
        team: sa.ColumnElement[Any] = school_class.c.school_id
        source: sa.FromClause = per_class.outerjoin(school_class, school_class.c.id == per_class.c.class_id)
    else:
        team, source = per_class.c.class_id, per_class
    sizes = sa.select(
        sa.literal("m").label("kind"),
        members.c.team_id,
        sa.cast(members.c.members, sa.BigInteger()).label("members"),
        sa.cast(sa.null(), sa.BigInteger()).label("active"),
        sa.cast(sa.null(), sa.Float()).label("value"),
        sa.cast(sa.null(), sa.String()).label("nickname"),
        sa.cast(sa.null(), sa.Boolean()).label("me"),
    )
    figures_per_team = (
        sa.select(
            sa.literal("f"),
            team,
            sa.cast(sa.null(), sa.BigInteger()),
            sa.cast(sa.func.sum(per_class.c.active), sa.BigInteger()),
            sa.cast(sa.func.sum(per_class.c.total), sa.Float()),
            sa.cast(sa.null(), sa.String()),
            sa.cast(sa.null(), sa.Boolean()),
        )
        .select_from(source)
        .group_by(team)
    )
    ranked = (
        sa.select(fig.c.user_id, fig.c.value)
        .where(fig.c.value > 0)
        .order_by(fig.c.value.desc())
        .subquery("ranked")
    )
    consenting = consent_effective_for(
        ConsentPurpose.LEADERBOARD, local_date(now), col(User.id), col(User.birth_year)
    )
    top = (
        sa.select(
            ranked.c.value, col(User.nickname).label("nickname"), (col(User.id) == viewer_id).label("me")
        )
        .select_from(ranked.join(User, col(User.id) == ranked.c.user_id))
        .where(consenting)
        .order_by(ranked.c.value.desc(), sa.func.lower(col(User.nickname)))
        .limit(limit)
        .subquery("top")
    )
    return sa.union_all(sizes, figures_per_team, people_rows(top))


def people_rows(top: sa.Subquery) -> sa.Select[Any]:
    """The listed individuals (value, nickname, me) as rows of a board statement's union, kind 'p'."""
    return sa.select(
        sa.literal("p"),
        sa.cast(sa.null(), sa.Uuid()),
        sa.cast(sa.null(), sa.BigInteger()),
        sa.cast(sa.null(), sa.BigInteger()),
        sa.cast(top.c.value, sa.Float()),
        top.c.nickname,
        top.c.me,
    )
