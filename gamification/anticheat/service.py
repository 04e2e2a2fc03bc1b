"""The anti-cheat verdict on a ride about to be stored, read with the rider's standing in one statement.

The rules are `gamification.anticheat.rules`; this module reads what they
need (the rider's recent rides and their cells, a stored twin of the trace)
and, in the same round trip, the standing `gamification.points.service.award_ride`
pays the ride against. Nothing here writes or commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import h3
from sqlalchemy.ext.asyncio import AsyncSession

from domain.core import sql as pg
from domain.rides.rules import ProcessedRide
from gamification.anticheat.rules import (
    DEFAULT_ANTICHEAT,
    AntiCheatRules,
    Verdict,
    assess_ride,
    fingerprint_of,
    trace_summary,
)
from gamification.badges import store as stats
from gamification.points.rules import DEFAULT_RULES, PointRules
from gamification.streaks import local_date

_JUDGE = pg.sql(
    f"""
    WITH recent AS (
      SELECT id, started_at, duration_s, fingerprint FROM ride
      WHERE user_id = :user_id AND started_at >= :since AND started_at < :until
    ),
    candidate AS (
      SELECT r.* FROM recent r CROSS JOIN LATERAL (
        SELECT count(*) AS n, count(mine.cell) AS shared
        FROM (SELECT DISTINCT cell FROM ride_cell WHERE ride_id = r.id AND started_at = r.started_at) v
        LEFT JOIN unnest(CAST(:cells AS bigint[])) AS mine(cell) ON mine.cell = v.cell
      ) o
      WHERE o.n > 0 AND o.shared::float8 / NULLIF(o.n + :n - o.shared, 0) >= :jaccard
    ),
    standing AS (
      SELECT
        (SELECT coalesce(sum(amount), 0) FROM points_entry
         WHERE user_id = :user_id AND reason = 'ride' AND day = :day) AS points_today,
        ARRAY({stats.ACTIVE_DAYS_SQL}) AS days,
        ARRAY(SELECT code FROM badge_award WHERE user_id = :user_id) AS held,
        school.lat AS school_lat, school.lon AS school_lon
      FROM (SELECT 1) AS one LEFT JOIN ({stats.SCHOOL_SQL}) AS school ON true
    )
    SELECT twin.id AS same_fingerprint, standing.*,
           k.id, k.started_at, k.duration_s, k.fingerprint, f.cell, f.offset_s
    FROM (SELECT (SELECT id FROM ride WHERE fingerprint = :fingerprint LIMIT 1) AS id) twin
    CROSS JOIN standing
    LEFT JOIN (
      candidate k CROSS JOIN LATERAL (
        SELECT cell, min(offset_s) AS offset_s FROM ride_cell
        WHERE ride_id = k.id AND started_at = k.started_at GROUP BY cell
      ) f
    ) ON true
    ORDER BY k.started_at, k.id
    """  # noqa: S608 - constant fragments
)
"""A stored ride with this fingerprint (any user's), the near-duplicate candidates with their
cells, and, on every row, the user's standing.

Each of the user's rides around this one is reduced to its distinct cells,
counted against this ride's cells with a hash join (work linear in the cells,
not cells times ours); only the few past the Jaccard floor have their cells
(first entry offset per cell) read. The standing is what a qualifying ride
is paid against: the ride points of the local day it is uploaded on (a ride
synced late shares that day's cap: a past day never opens a fresh one), the
active days, the badges held and the school a school badge looks at; read under the ride lock, it
stays exact until the ride is paid.
"""


@dataclass(frozen=True, slots=True)
class Standing:
    """The user's figures before this ride (see `_JUDGE`)."""

    points_today: int
    days: frozenset[date]
    held: frozenset[str]
    school: stats.School | None


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    standing: Standing
    rules: PointRules
    """The point rules the standing was read under (what counts as a trip): the ride is paid by them."""


async def judge_ride(
    session: AsyncSession,
    user_id: uuid.UUID,
    ride_id: uuid.UUID,
    processed: ProcessedRide,
    *,
    now: datetime,
    rules: AntiCheatRules = DEFAULT_ANTICHEAT,
    point_rules: PointRules = DEFAULT_RULES,
) -> Judgement:
    """The anti-cheat verdict on a ride about to be stored, against the rides stored before it,
    and the standing `award_ride` pays it against, in one statement.

    Call it under the user's ride lock, before writing the ride: the ride row
    is then written once, verdict included.
    """
    cells = sorted({h3.str_to_int(v.cell) for s in processed.segments for v in s})
    end = processed.started_at + timedelta(seconds=processed.duration_s)
    rows = await pg.fetch(
        session,
        _JUDGE,
        user_id=user_id,
        day=local_date(now),
        min_trip_m=point_rules.min_trip_m,
        fingerprint=fingerprint_of(processed),
        since=processed.started_at - rules.recent_window,
        until=end + rules.recent_window,
        cells=cells,
        n=len(cells),
        jaccard=rules.near_duplicate_jaccard,
    )
    by_ride: dict[uuid.UUID, list[tuple[int, float]]] = {}
    heads: dict[uuid.UUID, tuple[datetime, int, str | None]] = {}
    for row in rows:
        if row["id"] is not None:
            by_ride.setdefault(row["id"], []).append((row["cell"], row["offset_s"]))
            heads[row["id"]] = (row["started_at"], row["duration_s"], row["fingerprint"])
    recent = [
        trace_summary(
            started_at=heads[rid][0],
            duration_s=heads[rid][1],
            visits=visits,
            fingerprint=heads[rid][2] or "",
            ride_id=rid,
        )
        for rid, visits in by_ride.items()
    ]
    first = rows[0]
    verdict = assess_ride(
        processed, ride_id=ride_id, recent=recent, same_fingerprint=first["same_fingerprint"], rules=rules
    )
    standing = Standing(
        points_today=int(first["points_today"]),
        days=frozenset(first["days"]),
        held=frozenset(first["held"]),
        school=stats.school_of(first["school_lat"], first["school_lon"]),
    )
    return Judgement(verdict, standing, point_rules)
