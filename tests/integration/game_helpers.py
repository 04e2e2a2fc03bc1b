"""Helpers for the gamification tests: stats seeded with SQL, ledger readers, local days."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import h3
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gamification.badges.rules import EXPLORER_RESOLUTIONS, areas_of
from gamification.badges.store import local_day_sql, qualifying_sql
from gamification.leaderboards.rules import ChallengeMetric
from gamification.points.rules import DEFAULT_RULES, is_qualifying_trip
from gamification.streaks import CITY_TZ
from geo.classify import TravelMode
from tests.clock import session_clock
from tests.integration.ride_helpers import rows
from tests.integration.school_helpers import execute, scalar

Client = AsyncTestClient[Litestar]
SCHOOL_LAT, SCHOOL_LON = 51.0259, 4.4776
"""Where `school_helpers.school` puts every school."""

_DAY = local_day_sql("r.started_at")
CHALLENGE_VALUES = {
    ChallengeMetric.DISTANCE: "sum(r.distance_m) / 1000",
    ChallengeMetric.TRIPS: "count(*)::float8",
    ChallengeMetric.ACTIVE_DAYS: f"count(DISTINCT {_DAY})::float8",
    ChallengeMetric.PARTICIPATION: f"count(DISTINCT {_DAY})::float8",
}
CHALLENGE_TOTALS_FRESH = f"""
SELECT c.id, r.user_id, m.class_id, u.role = 'citizen' AS citizen, round(sum(r.distance_m)::numeric, 3),
       count(*)::int, count(DISTINCT {_DAY})::int,
       round((CASE c.metric WHEN 'distance' THEN {CHALLENGE_VALUES[ChallengeMetric.DISTANCE]}
                            WHEN 'trips' THEN {CHALLENGE_VALUES[ChallengeMetric.TRIPS]}
                            ELSE {CHALLENGE_VALUES[ChallengeMetric.ACTIVE_DAYS]} END)::numeric, 6)
FROM challenge c JOIN ride r ON r.started_at >= c.starts_at AND r.started_at < c.ends_at
JOIN app_user u ON u.id = r.user_id
LEFT JOIN class_membership m ON m.user_id = r.user_id LEFT JOIN school_class sc ON sc.id = m.class_id
WHERE {qualifying_sql()} AND CASE c.scope WHEN 'city' THEN u.role = 'citizen'
                                          WHEN 'school' THEN sc.school_id IS NOT DISTINCT FROM c.school_id
                                          ELSE m.class_id IS NOT DISTINCT FROM c.class_id END
GROUP BY c.id, c.metric, r.user_id, m.class_id, u.role
"""
"""Each challenge's figures per participant, afresh from the rides and rosters (bind :min_trip_m)."""
CHALLENGE_TOTALS_STORED = """
SELECT challenge_id, user_id, class_id, citizen, round(distance_m::numeric, 3), trips, active_days,
       round(value::numeric, 6)
FROM challenge_total
"""
"""What migration 0009's triggers stored, in the same shape."""


def local_noon(day: date, at: time = time(12, 0)) -> datetime:
    return datetime.combine(day, at, tzinfo=CITY_TZ).astimezone(UTC)


def local_today() -> date:
    return session_clock().astimezone(CITY_TZ).date()


RIDE_INSERT = """
INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution,
                  cell_count, segment_count, trimmed_m, point_count, kept_point_count,
                  incidents_filed, created_at, flagged, flags)
VALUES (:id, :user_id, :mode, :distance_m, 600, :started_at, 10, :n, 1, 300, 600, 600, 0, now(),
        :flagged, CAST(:flags AS varchar[]))
"""
"""A ride stored with SQL, no pipeline: binds id, user_id, mode, distance_m, started_at, n, flagged, flags."""

POINTS_INSERT = (
    "INSERT INTO points_entry (id, user_id, amount, reason, source, day, created_at)"
    " VALUES (gen_random_uuid(), :user_id, :amount, :reason, :source, :day, now())"
)


EXPLORED = (
    "INSERT INTO explorer_area (user_id, resolution, area, rides) VALUES (:user_id, :resolution, :area, 1)"
    " ON CONFLICT (user_id, resolution, area) DO UPDATE SET rides = explorer_area.rides + 1"
)


async def seed_ride(
    client: Client,
    user_id: str,
    *,
    started_at: datetime,
    distance_m: float = 2000.0,
    mode: str = "bike",
    flagged: bool = False,
    cells: Sequence[str] = (),
) -> str:
    """A stored ride written with SQL (no pipeline), with its cell rows when given, counted in
    its owner's explorer areas when it qualifies, as an upload would."""
    ride_id = str(uuid.uuid4())
    await execute(
        client,
        RIDE_INSERT,
        id=ride_id,
        user_id=uuid.UUID(user_id),
        mode=mode,
        distance_m=distance_m,
        started_at=started_at,
        n=len(cells),
        flagged=flagged,
        flags=["too_fast"] if flagged else [],
    )
    for seq, cell in enumerate(cells):
        await execute(
            client,
            "INSERT INTO ride_cell (ride_id, seq, cell, segment, offset_s, speed_mps, filled, started_at)"
            " VALUES (:ride_id, :seq, :cell, 0, :seq, 4.0, false, :started_at)",
            ride_id=uuid.UUID(ride_id),
            started_at=started_at,
            seq=seq,
            cell=h3.str_to_int(cell),
        )
    if is_qualifying_trip(distance_m, TravelMode(mode), flagged=flagged, rules=DEFAULT_RULES):
        for resolution, area in areas_of(cells, EXPLORER_RESOLUTIONS):
            await execute(client, EXPLORED, user_id=uuid.UUID(user_id), resolution=resolution, area=area)
    return ride_id


async def seed_points(client: Client, user_id: str, amount: int, *, day: date, reason: str = "ride") -> None:
    await execute(
        client,
        POINTS_INSERT,
        user_id=uuid.UUID(user_id),
        amount=amount,
        reason=reason,
        source=f"seed-{uuid.uuid4()}",
        day=day,
    )


async def ledger(client: Client, user_id: str) -> list[tuple[Any, ...]]:
    """(reason, amount, source) of the user's entries, oldest first."""
    app: Litestar = client.app
    return await rows(
        app.state.engine,
        "SELECT reason, amount, source FROM points_entry WHERE user_id = :u ORDER BY created_at, reason",
        u=uuid.UUID(user_id),
    )


async def total(client: Client, user_id: str) -> int:
    value = await scalar(
        client, "SELECT coalesce(sum(amount), 0) FROM points_entry WHERE user_id = :u", u=uuid.UUID(user_id)
    )
    return int(value)


async def badge_codes(client: Client, auth: dict[str, str]) -> list[str]:
    response = await client.get("/me/badges", headers=auth)
    assert response.status_code == 200, response.text
    return [b["code"] for b in response.json()]


def ride_local_day(body: dict[str, Any]) -> date:
    return datetime.fromisoformat(body["startedAt"]).astimezone(CITY_TZ).date()


def school_cell() -> str:
    return str(h3.latlng_to_cell(SCHOOL_LAT, SCHOOL_LON, 10))


def far_areas(count: int) -> list[str]:
    """Res-10 cells in `count` distinct res-8 areas, in Ghent (far from the simulated rides)."""
    centre = h3.latlng_to_cell(51.05, 3.72, 8)
    areas = sorted(h3.grid_disk(centre, 4))[:count]
    return [str(h3.cell_to_center_child(a, 10)) for a in areas]
