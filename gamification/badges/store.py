"""The few SQL aggregates that fill :class:`gamification.badges.UserStats`.

Only the figures the badges still to be earned need are computed: a user who
holds the explorer badge never pays for counting areas again, and an event
that cannot change a figure (a confirmation cannot change kilometres) does not
ask for it. Whatever is asked for comes back from one statement, built once
per combination of figures. Every ride figure counts qualifying trips only,
with the same predicate as :func:`gamification.points.rules.is_qualifying_trip`, in SQL.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import Enum
from typing import Final

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from domain.core import sql as pg
from gamification.badges.rules import (
    Badge,
    EarlyBird,
    Explorer,
    FirstRide,
    ReportsConfirmed,
    SchoolHero,
    Streak,
    Threshold,
    TimeWindow,
    UserStats,
    school_area,
)
from gamification.points.rules import DEFAULT_RULES, AwardReason, PointRules
from gamification.streaks import CITY_TZ, longest_streak
from geo.classify import TravelMode

TZ_NAME = str(CITY_TZ)
QUALIFYING_MODES = (TravelMode.WALK.value, TravelMode.BIKE.value)
_RIDE_METRICS = frozenset({"total_km", "bike_km", "walk_km", "rides"})
_H3_RES_OFFSET = 52
_REPORT_REASONS = (AwardReason.REPORT_CONFIRMED.value, AwardReason.REPORT_ACKNOWLEDGED.value)


def qualifying_sql(alias: str = "r") -> str:
    """`is_qualifying_trip` as a SQL condition on a ride row (bind `:min_trip_m`).

    Spelled as the partial index `ix_ride_qualifying_started` is, so range scans can use it.
    """
    return f"NOT {alias}.flagged AND {alias}.mode IN ('walk', 'bike') AND {alias}.distance_m >= :min_trip_m"


def local_day_sql(column: str) -> str:
    return f"(({column}) AT TIME ZONE '{TZ_NAME}')::date"


def parent_cell_sql(column: str, resolution: int) -> str:
    """The H3 parent of a BIGINT cell at `resolution`, with bit operations (no extension needed).

    An H3 index keeps its resolution in bits 52-55 and one 3-bit digit per
    finer resolution below; the parent sets the resolution and marks every
    finer digit unused (7). Only valid for cells at `resolution` or finer.
    """
    unused = (1 << (3 * (15 - resolution))) - 1
    return (
        f"(({column} & ~(15::bigint << {_H3_RES_OFFSET})) | ({resolution}::bigint << {_H3_RES_OFFSET})"
        f" | {unused}::bigint)"
    )


ACTIVE_DAYS_SQL = (
    f"SELECT DISTINCT {local_day_sql('r.started_at')} FROM ride r"  # noqa: S608 - constant fragments
    f" WHERE r.user_id = :user_id AND {qualifying_sql()}"
)
SCHOOL_SQL = """
    SELECT s.lat, s.lon FROM class_membership m
    JOIN school_class c ON c.id = m.class_id JOIN school s ON s.id = c.school_id
    WHERE m.user_id = :user_id
"""
_SCHOOL = sa.text(SCHOOL_SQL)

_SCHOOL_DAYS = f"""(
    SELECT count(DISTINCT {local_day_sql("r.started_at")}) FROM ride r
    WHERE r.user_id = :user_id AND {qualifying_sql()}
      AND (SELECT c.cell FROM ride_cell c WHERE c.ride_id = r.id AND c.started_at = r.started_at
           ORDER BY c.seq DESC LIMIT 1)
          = ANY(CAST(:area AS bigint[]))
)"""  # noqa: S608 - constant fragments


class _Unknown(Enum):
    UNKNOWN = "unknown"


UNKNOWN: Final = _Unknown.UNKNOWN
"""For ``school=``: the caller has not looked the user's school up."""


@dataclass(frozen=True, slots=True)
class School:
    lat: float
    lon: float


def school_of(lat: float | None, lon: float | None) -> School | None:
    """The school position of a row whose school columns come from an outer join (None: no class)."""
    return None if lat is None or lon is None else School(lat, lon)


@dataclass(frozen=True, slots=True)
class _Needs:
    """Which figures one snapshot asks for; the key of its (cached) statement."""

    ride_figures: bool
    early: tuple[TimeWindow, ...]
    areas: tuple[int, ...]
    days: bool
    school_days: bool
    reports_confirmed: bool
    confirmations_given: bool

    @property
    def anything(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def _needs(badges: Sequence[Badge], *, days_wanted: bool, has_school: bool) -> _Needs:
    rules_of = [b.rule for b in badges]
    return _Needs(
        ride_figures=any(
            isinstance(r, FirstRide) or (isinstance(r, Threshold) and r.metric in _RIDE_METRICS)
            for r in rules_of
        ),
        early=tuple(sorted({r.window for r in rules_of if isinstance(r, EarlyBird)})),
        areas=tuple(sorted({r.area_resolution for r in rules_of if isinstance(r, Explorer)})),
        days=days_wanted,
        school_days=has_school and any(isinstance(r, SchoolHero) for r in rules_of),
        reports_confirmed=any(isinstance(r, ReportsConfirmed) for r in rules_of),
        confirmations_given=any(
            isinstance(r, Threshold) and r.metric == "confirmations_given" for r in rules_of
        ),
    )


def _distinct_areas_sql(resolution: int) -> str:
    """The stored explorer areas (kept by the upload and the ride deletion: see `ride_areas_sql`)."""
    stored = "SELECT count(*) FROM explorer_area WHERE user_id = :user_id"
    return f"({stored} AND resolution = {resolution})"


def ride_areas_sql(resolutions: Sequence[int]) -> str:
    """The distinct (resolution, area) pairs of ride ``:ride_id`` if it is a qualifying trip
    (bind ``:min_trip_m``): what it added to its owner's explorer areas."""
    return " UNION ".join(
        f"SELECT DISTINCT {res}::smallint AS resolution, {parent_cell_sql('c.cell', res)} AS area"  # noqa: S608
        " FROM ride_cell c JOIN ride r ON r.id = c.ride_id AND r.started_at = c.started_at"
        f" WHERE c.ride_id = :ride_id AND {qualifying_sql()}"
        f" AND ((c.cell >> {_H3_RES_OFFSET}) & 15) >= {res}"
        for res in resolutions
    )


@functools.cache
def _statement(needs: _Needs) -> pg.Sql:
    """One SELECT with a column per figure: the qualifying rides are aggregated in a single scan
    (counts, km, early-bird windows), every other figure is a scalar subquery beside it."""
    columns = []
    if needs.ride_figures:
        columns += ["f.rides", "f.total_km", "f.bike_km", "f.walk_km"]
    columns += [f"f.early{i}" for i in range(len(needs.early))]
    columns += [f"{_distinct_areas_sql(res)} AS areas{res}" for res in needs.areas]
    if needs.days:
        columns.append(f"ARRAY({ACTIVE_DAYS_SQL}) AS days")
    if needs.school_days:
        columns.append(f"{_SCHOOL_DAYS} AS school_days")
    if needs.reports_confirmed:
        columns.append(
            "(SELECT count(DISTINCT source) FROM points_entry"
            " WHERE user_id = :user_id AND reason = ANY(CAST(:reasons AS varchar[]))) AS reports_confirmed"
        )
    if needs.confirmations_given:
        columns.append(
            "(SELECT count(*) FROM hazard_confirmation WHERE user_id = :user_id) AS confirmations_given"
        )
    local_time = f"(r.started_at AT TIME ZONE '{TZ_NAME}')::time"
    aggregates = [
        "count(*) AS rides",
        "coalesce(sum(r.distance_m), 0) / 1000 AS total_km",
        "coalesce(sum(r.distance_m) FILTER (WHERE r.mode = 'bike'), 0) / 1000 AS bike_km",
        "coalesce(sum(r.distance_m) FILTER (WHERE r.mode = 'walk'), 0) / 1000 AS walk_km",
    ] + [
        f"count(*) FILTER (WHERE {local_time} >= :lo{i} AND {local_time} < :hi{i}) AS early{i}"
        for i in range(len(needs.early))
    ]
    scan = ""
    if needs.ride_figures or needs.early:
        scan = (
            f" FROM (SELECT {', '.join(aggregates)} FROM ride r"  # noqa: S608 - constant fragments
            f" WHERE r.user_id = :user_id AND {qualifying_sql()}) f"
        )
    return pg.sql(f"SELECT {', '.join(columns)}{scan}")


async def user_stats(
    session: AsyncSession,
    user_id: uuid.UUID,
    badges: Sequence[Badge],
    *,
    resolution: int,
    days: set[date] | None = None,
    school: School | _Unknown | None = UNKNOWN,
    rules: PointRules = DEFAULT_RULES,
) -> UserStats:
    """A snapshot with every figure `badges` need (others stay 0), in one statement at most.

    `days`: the active days, and `school`: the user's school (None: in no class), when the
    caller already read them; the school is looked up first otherwise, and only if a school
    badge is wanted.
    """
    site = school if school is not UNKNOWN else None
    if school is UNKNOWN and any(isinstance(b.rule, SchoolHero) for b in badges):
        row = (await session.execute(_SCHOOL, {"user_id": user_id})).one_or_none()
        site = None if row is None else School(row.lat, row.lon)
    wants_days = any(
        isinstance(b.rule, Streak) or (isinstance(b.rule, Threshold) and b.rule.metric == "active_days")
        for b in badges
    )
    needs = _needs(badges, days_wanted=wants_days and days is None, has_school=site is not None)
    fields: dict[str, object] = {}
    if needs.anything:
        params: dict[str, object] = {"user_id": user_id, "min_trip_m": rules.min_trip_m}
        params |= {f"lo{i}": lo for i, (lo, _) in enumerate(needs.early)}
        params |= {f"hi{i}": hi for i, (_, hi) in enumerate(needs.early)}
        if site is not None and needs.school_days:
            area = school_area(h3.latlng_to_cell(site.lat, site.lon, resolution))
            params["area"] = [h3.str_to_int(c) for c in area]
        if needs.reports_confirmed:
            params["reasons"] = list(_REPORT_REASONS)
        figures = await pg.fetchrow(session, _statement(needs), **params)
        if needs.ride_figures:
            fields |= {
                "rides": int(figures["rides"]),
                "total_km": float(figures["total_km"]),
                "bike_km": float(figures["bike_km"]),
                "walk_km": float(figures["walk_km"]),
            }
        if needs.early:
            fields["early_rides"] = {w: int(figures[f"early{i}"]) for i, w in enumerate(needs.early)}
        if needs.areas:
            fields["distinct_areas"] = {res: int(figures[f"areas{res}"]) for res in needs.areas}
        if needs.days:
            days = set(figures["days"])
        for name in ("school_days", "reports_confirmed", "confirmations_given"):
            if getattr(needs, name):
                fields[name] = int(figures[name])
    if wants_days:
        known = days or set()
        fields |= {"active_days": len(known), "longest_streak": longest_streak(known)}
    return UserStats(**fields)  # type: ignore[arg-type]
