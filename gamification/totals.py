"""Standings read from the stored running totals (migration 0008) instead of the raw ledger and rides.

``points_period_total`` holds each user's points per local week and month;
``ride_period_total`` each user's qualifying rides per local day and month.
Triggers keep both in the transaction of every ledger entry and ride change,
so they always equal the aggregates they replace. Each row also carries the
user's class and whether they are a citizen, which is what a roster asks:

- class: the rows of that class; school: the rows of its classes; city: the
  rows of citizens (with or without a class);
- a team's figures are those rows grouped by class (city: by the class's
  school), so no standing joins the 20 000 members of a city.

Team sizes still come from ``class_membership`` (city: citizens in no class
are the citizens minus the class members; only citizens join a class, see
``domain.school_service.join_class``).

A challenge window is cut by :func:`split_window` into whole months, whole
days and at most two partial days at its edges; the partial days are read
from ``ride`` itself (the partial index ``ix_ride_qualifying_started``), the
rest from the totals. The parts cover disjoint days, so active days add up.
The stored rides are those that qualify under the default
``PointRules.min_trip_m`` (:data:`STORED_MIN_TRIP_M`); a caller with another
minimum reads the raw rides (``gamification.challenges``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import col

from domain.accounts import User
from domain.enums import ConsentPurpose
from gamification.standings import ChallengeMetric, Period
from gamification.stats import qualifying_sql
from gamification.streaks import CITY_TZ, local_date
from privacy.consent import consent_effective_for

STORED_MIN_TRIP_M: Final = 300
"""The minimum trip the ride_period_total trigger counts (migration 0008): PointRules' default."""

_ONE_DAY: Final = timedelta(days=1)

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

_VALUES: Final[dict[ChallengeMetric, str]] = {
    ChallengeMetric.DISTANCE: "sum(distance_m) / 1000",
    ChallengeMetric.TRIPS: "sum(trips)::float8",
    ChallengeMetric.ACTIVE_DAYS: "sum(active_days)::float8",
    ChallengeMetric.PARTICIPATION: "sum(active_days)::float8",
}


@dataclass(frozen=True, slots=True)
class WindowParts:
    """A window ``[starts_at, ends_at)`` as disjoint pieces: raw time ranges, whole days, whole months.

    ``raw``: time ranges read from the rides (partial days, each within one
    local day, so a user active in one counts one active day); ``days``: ranges of
    whole local days ``[first, after)``; ``months``: the first days of the whole
    months, ``[first, after)``, or None.
    """

    raw: tuple[tuple[datetime, datetime], ...]
    days: tuple[tuple[date, date], ...]
    months: tuple[date, date] | None


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def split_window(starts_at: datetime, ends_at: datetime, tz: ZoneInfo = CITY_TZ) -> WindowParts:
    """Cut an aware window into raw edges, whole local days and whole local months (disjoint, in order)."""
    first_day = starts_at.astimezone(tz).date()
    if _midnight(first_day, tz) < starts_at:
        first_day += _ONE_DAY
    end_day = ends_at.astimezone(tz).date()
    if first_day >= end_day:  # within one local day, or across one midnight
        cut = _midnight(end_day, tz)
        split = ((starts_at, cut), (cut, ends_at)) if starts_at < cut < ends_at else ((starts_at, ends_at),)
        return WindowParts(raw=split, days=(), months=None)
    raw: list[tuple[datetime, datetime]] = []
    if starts_at < _midnight(first_day, tz):
        raw.append((starts_at, _midnight(first_day, tz)))
    if _midnight(end_day, tz) < ends_at:
        raw.append((_midnight(end_day, tz), ends_at))
    first_month = first_day if first_day.day == 1 else _next_month(first_day)
    after_months = end_day.replace(day=1)
    if first_month >= after_months:
        return WindowParts(raw=tuple(raw), days=((first_day, end_day),), months=None)
    days = tuple(r for r in ((first_day, first_month), (after_months, end_day)) if r[0] < r[1])
    return WindowParts(raw=tuple(raw), days=days, months=(first_month, after_months))


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


_PLACED_RIDES = (
    "SELECT r.user_id, m.class_id, u.role = 'citizen' AS citizen, {sign}r.distance_m AS distance_m,"
    " {sign}1 AS trips FROM ride r JOIN app_user u ON u.id = r.user_id"
    " LEFT JOIN class_membership m ON m.user_id = r.user_id WHERE {qualifying} AND ({ranges})"
)
"""Qualifying rides in some time ranges, placed in the rosters as the stored rows are; {sign}: '' or '-'."""


def _raw_part(i: int) -> str:
    """Qualifying rides of one raw range (within one local day) per user."""
    rides = _PLACED_RIDES.format(
        sign="", qualifying=qualifying_sql(), ranges=f"r.started_at >= :r{i}_0 AND r.started_at < :r{i}_1"
    )
    return (
        "SELECT user_id, class_id, citizen, sum(distance_m) AS distance_m, sum(trips) AS trips,"  # noqa: S608
        f" 1 AS active_days FROM ({rides}) e GROUP BY user_id, class_id, citizen"
    )


def _day_less_part(i: int) -> str:
    """One local day's stored rows less the rides outside the range: for a range covering most of its day."""
    rides = _PLACED_RIDES.format(
        sign="-",
        qualifying=qualifying_sql(),
        ranges=f"(r.started_at >= :c{i}_a0 AND r.started_at < :c{i}_a1)"
        f" OR (r.started_at >= :c{i}_b0 AND r.started_at < :c{i}_b1)",
    )
    return (
        "SELECT user_id, class_id, citizen, sum(distance_m) AS distance_m, sum(trips) AS trips,"  # noqa: S608
        " 1 AS active_days FROM (SELECT user_id, class_id, citizen, distance_m, trips FROM ride_period_total"
        f" WHERE period = 'day' AND starts_on = :c{i}_day UNION ALL {rides}) e"
        " GROUP BY user_id, class_id, citizen HAVING sum(trips) > 0"
    )


def _stored_part(period: str, i: int) -> str:
    return (
        "SELECT user_id, class_id, citizen, distance_m, trips, active_days FROM ride_period_total"  # noqa: S608
        f" WHERE period = '{period}' AND starts_on >= :{period}{i}_0 AND starts_on < :{period}{i}_1"
    )


def ride_figures(
    metric: ChallengeMetric, starts_at: datetime, ends_at: datetime, scope: str, scope_id: uuid.UUID | None
) -> FiguresSql:
    """A challenge's figure per user of the scope over ``[starts_at, ends_at)``, from the stored days and
    months plus the partial edge days. An edge day is read from the rides in it or, when it covers more
    than half of its day, as that day's stored rows less the rides outside it (a window ending "now"
    has none after it). Counts rides of at least :data:`STORED_MIN_TRIP_M`."""
    parts = split_window(starts_at, ends_at)
    pieces: list[str] = []
    binds: dict[str, object] = {"min_trip_m": STORED_MIN_TRIP_M, **_scope_binds(scope, scope_id)}
    for i, (t0, t1) in enumerate(parts.raw):
        day = t0.astimezone(CITY_TZ).date()
        midnight, after = _midnight(day, CITY_TZ), _midnight(day + _ONE_DAY, CITY_TZ)
        if (t1 - t0) * 2 <= after - midnight:
            pieces.append(_raw_part(i))
            binds |= {f"r{i}_0": t0, f"r{i}_1": t1}
        else:
            pieces.append(_day_less_part(i))
            binds |= {
                f"c{i}_day": day,
                f"c{i}_a0": midnight,
                f"c{i}_a1": t0,
                f"c{i}_b0": t1,
                f"c{i}_b1": after,
            }
    for i, (d0, d1) in enumerate(parts.days):
        pieces.append(_stored_part("day", i))
        binds |= {f"day{i}_0": d0, f"day{i}_1": d1}
    if parts.months is not None:
        pieces.append(_stored_part("month", 0))
        binds |= {"month0_0": parts.months[0], "month0_1": parts.months[1]}
    sql = (
        f"SELECT user_id, class_id, {_VALUES[metric]} AS value"  # noqa: S608 - constant fragments
        f" FROM ({' UNION ALL '.join(pieces)}) p WHERE {_SCOPE_FILTERS[scope]}"
        " GROUP BY user_id, class_id"
    )
    return FiguresSql(sql, binds)


def board_statement(
    figures: FiguresSql,
    scope: str,
    scope_id: uuid.UUID | None,
    *,
    materialize: bool,
    viewer_id: uuid.UUID,
    now: datetime,
    limit: int,
) -> sa.CompoundSelect[Any]:
    """Team sizes ("m" rows), team figures ("f") and the top consenting people ("p"), in one round trip.

    People: the figures best first, each checked against the leaderboard
    consent as it stands now (one index probe) until ``limit`` are found, so
    a city board reads its best few dozen users, not all of them.
    ``materialize``: compute the figures once (an aggregate over a window)
    rather than let each branch read the totals in its own index order.
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
        .prefix_with("MATERIALIZED" if materialize else "NOT MATERIALIZED")
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
