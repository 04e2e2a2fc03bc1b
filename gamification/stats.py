"""The few SQL aggregates that fill :class:`gamification.badges.UserStats`.

Only the figures the badges still to be earned need are computed: a user who
holds the explorer badge never pays for counting areas again, and an event
that cannot change a figure (a confirmation cannot change kilometres) does not
ask for it. Every ride figure counts qualifying trips only, with the same
predicate as :func:`gamification.rules.is_qualifying_trip`, in SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from gamification.badges import (
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
from gamification.rules import DEFAULT_RULES, AwardReason, PointRules
from gamification.streaks import CITY_TZ, longest_streak
from geo.classify import TravelMode

TZ_NAME = str(CITY_TZ)
QUALIFYING_MODES = (TravelMode.WALK.value, TravelMode.BIKE.value)
_RIDE_METRICS = frozenset({"total_km", "bike_km", "walk_km", "rides"})
_H3_RES_OFFSET = 52


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


_RIDE_FIGURES = f"""
SELECT count(*) AS rides,
       coalesce(sum(r.distance_m), 0) / 1000 AS total_km,
       coalesce(sum(r.distance_m) FILTER (WHERE r.mode = 'bike'), 0) / 1000 AS bike_km,
       coalesce(sum(r.distance_m) FILTER (WHERE r.mode = 'walk'), 0) / 1000 AS walk_km
FROM ride r WHERE r.user_id = :user_id AND {qualifying_sql()}
"""  # noqa: S608 - constant fragments

_ACTIVE_DAYS = sa.text(
    f"SELECT DISTINCT {local_day_sql('r.started_at')} FROM ride r"  # noqa: S608 - constant fragments
    f" WHERE r.user_id = :user_id AND {qualifying_sql()}"
)

_SCHOOL = sa.text(
    """
    SELECT s.lat, s.lon FROM class_membership m
    JOIN school_class c ON c.id = m.class_id JOIN school s ON s.id = c.school_id
    WHERE m.user_id = :user_id
    """
)

_SCHOOL_DAYS = sa.text(
    f"""
    SELECT count(DISTINCT {local_day_sql("r.started_at")}) FROM ride r
    WHERE r.user_id = :user_id AND {qualifying_sql()}
      AND (SELECT c.cell FROM ride_cell c WHERE c.ride_id = r.id ORDER BY c.seq DESC LIMIT 1) = ANY(:area)
    """  # noqa: S608 - constant fragments
)

_REPORTS_CONFIRMED = sa.text(
    "SELECT count(DISTINCT source) FROM points_entry WHERE user_id = :user_id AND reason = ANY(:reasons)"
)
_CONFIRMATIONS_GIVEN = sa.text("SELECT count(*) FROM hazard_confirmation WHERE user_id = :user_id")


async def active_days(
    session: AsyncSession, user_id: uuid.UUID, rules: PointRules = DEFAULT_RULES
) -> set[date]:
    """The user's active local days: days with at least one qualifying trip."""
    rows = await session.execute(_ACTIVE_DAYS, {"user_id": user_id, "min_trip_m": rules.min_trip_m})
    return set(rows.scalars())


async def _early_rides(
    session: AsyncSession, user_id: uuid.UUID, windows: Sequence[EarlyBird], params: dict[str, object]
) -> dict[TimeWindow, int]:
    parts = ", ".join(
        f"count(*) FILTER (WHERE (r.started_at AT TIME ZONE '{TZ_NAME}')::time >= :lo{i}"
        f" AND (r.started_at AT TIME ZONE '{TZ_NAME}')::time < :hi{i})"
        for i in range(len(windows))
    )
    binds = {**params, **{f"lo{i}": w.not_before for i, w in enumerate(windows)}}
    binds |= {f"hi{i}": w.rides_before for i, w in enumerate(windows)}
    query = f"SELECT {parts} FROM ride r WHERE r.user_id = :user_id AND {qualifying_sql()}"  # noqa: S608
    row = (await session.execute(sa.text(query), binds)).one()
    return {w.window: int(n) for w, n in zip(windows, row, strict=True)}


async def _distinct_areas(
    session: AsyncSession, resolutions: set[int], params: dict[str, object]
) -> dict[int, int]:
    out = {}
    for res in sorted(resolutions):
        query = f"""
            SELECT count(DISTINCT {parent_cell_sql("c.cell", res)}) FROM ride r
            JOIN ride_cell c ON c.ride_id = r.id
            WHERE r.user_id = :user_id AND {qualifying_sql()} AND ((c.cell >> {_H3_RES_OFFSET}) & 15) >= {res}
        """  # noqa: S608 - constant fragments
        out[res] = int((await session.execute(sa.text(query), params)).scalar_one())
    return out


async def _school_days(session: AsyncSession, resolution: int, params: dict[str, object]) -> int:
    school = (await session.execute(_SCHOOL, params)).one_or_none()
    if school is None:
        return 0
    area = school_area(h3.latlng_to_cell(school.lat, school.lon, resolution))
    binds = {**params, "area": [h3.str_to_int(c) for c in area]}
    return int((await session.execute(_SCHOOL_DAYS, binds)).scalar_one())


async def user_stats(
    session: AsyncSession,
    user_id: uuid.UUID,
    badges: Sequence[Badge],
    *,
    resolution: int,
    days: set[date] | None = None,
    rules: PointRules = DEFAULT_RULES,
) -> UserStats:
    """A snapshot with every figure `badges` need (others stay 0). `days`: active days, when known."""
    rules_of = [b.rule for b in badges]
    params: dict[str, object] = {"user_id": user_id, "min_trip_m": rules.min_trip_m}
    fields: dict[str, object] = {}
    if any(
        isinstance(r, FirstRide) or (isinstance(r, Threshold) and r.metric in _RIDE_METRICS) for r in rules_of
    ):
        row = (await session.execute(sa.text(_RIDE_FIGURES), params)).one()
        fields |= {
            "rides": int(row.rides),
            "total_km": float(row.total_km),
            "bike_km": float(row.bike_km),
            "walk_km": float(row.walk_km),
        }
    if any(
        isinstance(r, Streak) or (isinstance(r, Threshold) and r.metric == "active_days") for r in rules_of
    ):
        known = days if days is not None else await active_days(session, user_id, rules)
        fields |= {"active_days": len(known), "longest_streak": longest_streak(known)}
    early = [r for r in rules_of if isinstance(r, EarlyBird)]
    if early:
        fields["early_rides"] = await _early_rides(session, user_id, early, params)
    areas = {r.area_resolution for r in rules_of if isinstance(r, Explorer)}
    if areas:
        fields["distinct_areas"] = await _distinct_areas(session, areas, params)
    if any(isinstance(r, SchoolHero) for r in rules_of):
        fields["school_days"] = await _school_days(session, resolution, params)
    if any(isinstance(r, ReportsConfirmed) for r in rules_of):
        reasons = [AwardReason.REPORT_CONFIRMED.value, AwardReason.REPORT_ACKNOWLEDGED.value]
        count = await session.execute(_REPORTS_CONFIRMED, {"user_id": user_id, "reasons": reasons})
        fields["reports_confirmed"] = int(count.scalar_one())
    if any(isinstance(r, Threshold) and r.metric == "confirmations_given" for r in rules_of):
        count = await session.execute(_CONFIRMATIONS_GIVEN, {"user_id": user_id})
        fields["confirmations_given"] = int(count.scalar_one())
    return UserStats(**fields)  # type: ignore[arg-type]
