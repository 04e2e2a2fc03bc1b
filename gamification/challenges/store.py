"""Challenge standings from the raw rides, for rules the running totals do not count (another trip length).

The usual path reads the stored per-challenge totals
(:func:`gamification.leaderboards.store.challenge_figures`); these statements
aggregate the rides of a scope's roster instead, and mark the stored
participants paid once the target is reached.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col

from domain.accounts.tables import User
from domain.core.enums import ConsentPurpose
from gamification.badges.store import local_day_sql, qualifying_sql
from gamification.leaderboards.rules import (
    ChallengeMetric,
)
from gamification.leaderboards.store import (
    people_rows,
)
from gamification.points.rules import PointRules
from gamification.streaks import local_date
from privacy.consent.store import effective_consent_subquery

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


def roster(scope: str, scope_id: uuid.UUID | None) -> sa.Subquery:
    text = sa.text(_ROSTERS[scope]).columns(sa.column("user_id", sa.Uuid()), sa.column("team_id", sa.Uuid()))
    if scope != "city":
        text = text.bindparams(scope_id=scope_id)
    return text.subquery("roster")


def _figures(sql: str, **binds: object) -> sa.Subquery:
    text = sa.text(sql).columns(sa.column("user_id", sa.Uuid()), sa.column("value", sa.Float()))
    return text.bindparams(**binds).subquery("fig")


def ride_figures(
    metric: ChallengeMetric, starts_at: datetime, ends_at: datetime, rules: PointRules
) -> sa.Subquery:
    sql = (
        f"SELECT r.user_id, {_RIDE_VALUES[metric]} AS value FROM ride r"  # noqa: S608 - constant fragments
        f" WHERE {qualifying_sql()} AND r.started_at >= :t0 AND r.started_at < :t1 GROUP BY r.user_id"
    )
    return _figures(sql, t0=starts_at, t1=ends_at, min_trip_m=rules.min_trip_m)


def ride_board_statement(
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


UNPAID: Final = sa.text(
    "UPDATE challenge_total SET paid = true WHERE challenge_id = :challenge_id AND NOT paid RETURNING user_id"
).columns(sa.column("user_id", sa.Uuid()))
"""The stored participants still without the completion points, marked as paid (usually none: one probe)."""
