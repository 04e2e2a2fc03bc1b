"""The stored running totals always equal a fresh aggregate of the rows they summarise, and a challenge's
standings read through them equal the raw query's (migrations 0008 and 0009, leaderboards/store.py)."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.database import make_sessionmaker
from domain.accounts.tables import User
from gamification.badges.store import qualifying_sql
from gamification.challenges import service as challenges
from gamification.leaderboards.rules import ChallengeMetric
from gamification.leaderboards.service import Board
from gamification.leaderboards.store import STORED_MIN_TRIP_M
from gamification.points.rules import DEFAULT_RULES
from gamification.streaks import CITY_TZ
from tests.integration.game_helpers import (
    CHALLENGE_TOTALS_FRESH,
    CHALLENGE_TOTALS_STORED,
    CHALLENGE_VALUES,
    POINTS_INSERT,
    RIDE_INSERT,
)

BASE = datetime(2026, 3, 20, 9, 30, tzinfo=UTC)  # spans the spring clock change and a month boundary

_POINTS_FRESH = """
SELECT e.user_id, k.period, date_trunc(k.period, e.day::timestamp)::date AS starts_on, m.class_id,
       u.role = 'citizen' AS citizen, sum(e.amount)::int AS amount
FROM points_entry e CROSS JOIN (VALUES ('week'), ('month')) k(period)
JOIN app_user u ON u.id = e.user_id LEFT JOIN class_membership m ON m.user_id = e.user_id
GROUP BY 1, 2, 3, 4, 5
"""
_POINTS_STORED = "SELECT user_id, period, starts_on, class_id, citizen, amount FROM points_period_total"


async def _set(engine: AsyncEngine, sql: str, **params: Any) -> set[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return {tuple(row) for row in await conn.execute(sa.text(sql), params)}


async def _run(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text(sql), params)


async def _assert_totals_are_fresh(engine: AsyncEngine) -> None:
    assert await _set(engine, _POINTS_STORED) == await _set(engine, _POINTS_FRESH)
    params = {"min_trip_m": STORED_MIN_TRIP_M}
    assert await _set(engine, CHALLENGE_TOTALS_STORED) == await _set(engine, CHALLENGE_TOTALS_FRESH, **params)


async def _user(engine: AsyncEngine, role: str = "citizen") -> uuid.UUID:
    user_id = uuid.uuid4()
    await _run(
        engine,
        "INSERT INTO app_user (id, handle, handle_key, password_hash, role, nickname, privacy_seed,"
        " created_at) VALUES (:id, :h, :h, 'x', :role, :h, '\\x00', now())",
        id=user_id,
        h=f"u{user_id.hex[:12]}",
        role=role,
    )
    return user_id


async def _school(engine: AsyncEngine) -> uuid.UUID:
    school_id = uuid.uuid4()
    await _run(
        engine,
        "INSERT INTO school (id, name, lat, lon, created_at) VALUES (:s, 'S', 51.0, 4.4, now())",
        s=school_id,
    )
    return school_id


async def _class(engine: AsyncEngine, school_id: uuid.UUID | None = None) -> uuid.UUID:
    school_id, class_id = school_id or await _school(engine), uuid.uuid4()
    await _run(
        engine,
        "INSERT INTO school_class (id, school_id, name, created_at) VALUES (:c, :s, 'C', now())",
        s=school_id,
        c=class_id,
    )
    return class_id


async def _join(engine: AsyncEngine, user_id: uuid.UUID, class_id: uuid.UUID) -> None:
    await _run(engine, "DELETE FROM class_membership WHERE user_id = :u", u=user_id)
    await _run(
        engine,
        "INSERT INTO class_membership (class_id, user_id, joined_at) VALUES (:c, :u, now())",
        c=class_id,
        u=user_id,
    )


async def _points(engine: AsyncEngine, user_id: uuid.UUID, amount: int, day_offset: int, source: str) -> None:
    await _run(
        engine,
        POINTS_INSERT,
        user_id=user_id,
        amount=amount,
        reason="ride",
        source=source,
        day=(BASE + timedelta(days=day_offset)).date(),
    )


async def _ride(
    engine: AsyncEngine,
    user_id: uuid.UUID,
    started_at: datetime,
    *,
    distance_m: float = 2000.0,
    mode: str = "bike",
    flagged: bool = False,
) -> uuid.UUID:
    ride_id = uuid.uuid4()
    await _run(
        engine,
        RIDE_INSERT,
        id=ride_id,
        user_id=user_id,
        mode=mode,
        distance_m=distance_m,
        started_at=started_at,
        n=0,
        flagged=flagged,
        flags=[],
    )
    return ride_id


async def test_point_totals_follow_awards_deletions_class_moves_and_erasure(clean_db: AsyncEngine) -> None:
    pupil, citizen, teacher = await _user(clean_db), await _user(clean_db), await _user(clean_db, "teacher")
    first, second = await _class(clean_db), await _class(clean_db)
    await _join(clean_db, pupil, first)
    for n, (who, amount, offset) in enumerate(
        [(pupil, 30, 0), (pupil, 12, 1), (pupil, 5, 12), (citizen, 8, 0), (teacher, 4, 2), (citizen, 7, 11)]
    ):
        await _points(clean_db, who, amount, offset, f"r{n}")
    await _assert_totals_are_fresh(clean_db)

    await _run(clean_db, "DELETE FROM points_entry WHERE user_id = :u AND source = 'r1'", u=pupil)
    await _run(clean_db, "DELETE FROM points_entry WHERE user_id = :u AND source = 'r3'", u=citizen)
    await _assert_totals_are_fresh(clean_db)

    await _join(clean_db, pupil, second)
    await _join(clean_db, citizen, first)
    await _assert_totals_are_fresh(clean_db)
    await _run(clean_db, "DELETE FROM class_membership WHERE user_id = :u", u=citizen)
    await _run(clean_db, "DELETE FROM school_class WHERE id = :c", c=second)  # the pupil's class goes
    await _assert_totals_are_fresh(clean_db)

    await _run(clean_db, "DELETE FROM app_user WHERE id = :u", u=pupil)
    await _assert_totals_are_fresh(clean_db)
    assert await _set(clean_db, "SELECT 1 FROM points_period_total WHERE user_id = :u", u=pupil) == set()


async def _challenge(
    engine: AsyncEngine,
    t0: datetime,
    t1: datetime,
    *,
    metric: ChallengeMetric = ChallengeMetric.DISTANCE,
    school_id: uuid.UUID | None = None,
    class_id: uuid.UUID | None = None,
) -> uuid.UUID:
    challenge_id = uuid.uuid4()
    scope = "class" if class_id else "school" if school_id else "city"
    await _run(
        engine,
        "INSERT INTO challenge (id, name, scope, school_id, class_id, metric, starts_at, ends_at, created_at)"
        " VALUES (:id, 'c', :scope, :school, :class, :metric, :t0, :t1, now())",
        id=challenge_id,
        scope=scope,
        school=school_id,
        **{"class": class_id},
        metric=metric.value,
        t0=t0,
        t1=t1,
    )
    return challenge_id


async def test_challenge_totals_follow_uploads_flags_edits_class_moves_deletions_and_erasure(
    clean_db: AsyncEngine,
) -> None:
    pupil, citizen, teacher = await _user(clean_db), await _user(clean_db), await _user(clean_db, "teacher")
    school = await _school(clean_db)
    first, second, elsewhere = (
        await _class(clean_db, school),
        await _class(clean_db, school),
        await _class(clean_db),
    )
    await _join(clean_db, pupil, first)
    month = (BASE - timedelta(days=2), BASE + timedelta(days=28))
    await _challenge(clean_db, *month)  # city, before any ride: filled by the ride triggers
    await _challenge(clean_db, *month, metric=ChallengeMetric.TRIPS, class_id=first, school_id=school)
    rides = [
        await _ride(clean_db, pupil, BASE),
        await _ride(clean_db, pupil, BASE + timedelta(hours=2), mode="walk", distance_m=800),
        await _ride(clean_db, pupil, BASE + timedelta(days=9)),
        await _ride(clean_db, pupil, BASE + timedelta(days=1), mode="motorised"),
        await _ride(clean_db, pupil, BASE + timedelta(days=2), distance_m=STORED_MIN_TRIP_M - 1),
        await _ride(clean_db, pupil, BASE + timedelta(days=2), distance_m=STORED_MIN_TRIP_M),
        await _ride(clean_db, citizen, BASE, flagged=True),
        await _ride(clean_db, citizen, BASE + timedelta(days=3, hours=14)),  # 23:30 local: still that day
        await _ride(clean_db, teacher, BASE + timedelta(days=1)),  # no citizen: in no roster
        await _ride(clean_db, pupil, BASE + timedelta(days=40)),  # after every window
    ]
    # created after the rides: filled from the rides already in their window
    await _challenge(clean_db, *month, metric=ChallengeMetric.ACTIVE_DAYS, school_id=school)
    await _challenge(
        clean_db,
        BASE + timedelta(hours=1),
        BASE + timedelta(days=2, hours=1),
        class_id=second,
        school_id=school,
        metric=ChallengeMetric.PARTICIPATION,
    )
    await _assert_totals_are_fresh(clean_db)
    assert await _set(clean_db, "SELECT 1 FROM challenge_total WHERE user_id = :u", u=teacher) == set()

    await _run(clean_db, "UPDATE ride SET flagged = true WHERE id = :r", r=rides[0])  # anti-cheat, later
    await _run(clean_db, "UPDATE ride SET flagged = false WHERE id = :r", r=rides[6])
    await _run(clean_db, "UPDATE ride SET mode = 'bike' WHERE id = :r", r=rides[3])
    await _run(clean_db, "UPDATE ride SET distance_m = 5000 WHERE id = :r", r=rides[4])
    await _run(
        clean_db, "UPDATE ride SET started_at = started_at + interval '40 days' WHERE id = :r", r=rides[2]
    )
    await _assert_totals_are_fresh(clean_db)

    await _join(clean_db, pupil, second)  # leaves the first class's challenge, joins the second's
    await _join(clean_db, citizen, elsewhere)  # another school: only the city challenge
    await _assert_totals_are_fresh(clean_db)
    await _run(clean_db, "DELETE FROM class_membership WHERE user_id = :u", u=citizen)
    await _run(
        clean_db, "DELETE FROM school_class WHERE id = :c", c=second
    )  # the pupil's class and challenge go
    await _assert_totals_are_fresh(clean_db)

    await _run(clean_db, "DELETE FROM ride WHERE id = ANY(:r)", r=[rides[1], rides[5]])
    await _assert_totals_are_fresh(clean_db)
    await _run(clean_db, "DELETE FROM app_user WHERE id = :u", u=citizen)
    await _assert_totals_are_fresh(clean_db)
    assert await _set(clean_db, "SELECT 1 FROM challenge_total WHERE user_id = :u", u=citizen) == set()


def _raw_figures(metric: ChallengeMetric) -> str:
    return (
        f"SELECT r.user_id, {CHALLENGE_VALUES[metric]} FROM ride r JOIN app_user u ON u.id = r.user_id"
        f" WHERE u.role = 'citizen' AND {qualifying_sql()} AND r.started_at >= :t0 AND r.started_at < :t1"
        " GROUP BY r.user_id"
    )


@pytest.mark.parametrize("metric", list(ChallengeMetric))
async def test_challenge_totals_over_any_window_give_the_raw_figures(
    clean_db: AsyncEngine, metric: ChallengeMetric
) -> None:
    rng = random.Random(7)
    users = [await _user(clean_db) for _ in range(6)]
    await _join(clean_db, users[0], await _class(clean_db))
    windows = [(BASE + timedelta(days=11), BASE + timedelta(days=11, hours=3))]  # inside one day
    windows.append(
        (datetime(2026, 4, 1, tzinfo=UTC) - timedelta(hours=2), datetime(2026, 5, 1, 22, tzinfo=UTC))
    )
    windows.append((datetime(2026, 3, 22, 1, tzinfo=CITY_TZ), datetime(2026, 4, 9, 23, tzinfo=CITY_TZ)))
    for _ in range(12):
        start = BASE + timedelta(minutes=rng.randrange(-3 * 24 * 60, 70 * 24 * 60))
        windows.append((start, start + timedelta(minutes=rng.randrange(1, 60 * 24 * 60))))
    # half the challenges exist before the rides (kept by the ride trigger), half are created after (filled)
    early = {await _challenge(clean_db, t0, t1, metric=metric): (t0, t1) for t0, t1 in windows[::2]}
    for _ in range(160):
        await _ride(
            clean_db,
            rng.choice(users),
            BASE + timedelta(minutes=rng.randrange(0, 80 * 24 * 60)),
            distance_m=rng.choice([250.0, 300.0, 1234.5, 4000.25]),
            mode=rng.choice(["bike", "bike", "walk", "motorised"]),
            flagged=rng.random() < 0.1,
        )
    late = {await _challenge(clean_db, t0, t1, metric=metric): (t0, t1) for t0, t1 in windows[1::2]}
    assert DEFAULT_RULES.min_trip_m == STORED_MIN_TRIP_M
    compared = 0
    for challenge_id, (t0, t1) in (early | late).items():
        stored = dict(
            await _set(
                clean_db, "SELECT user_id, value FROM challenge_total WHERE challenge_id = :c", c=challenge_id
            )
        )
        raw = dict(await _set(clean_db, _raw_figures(metric), t0=t0, t1=t1, min_trip_m=STORED_MIN_TRIP_M))
        assert stored == pytest.approx(raw), (t0, t1)
        compared += len(raw)
    assert compared > 30


async def test_a_city_counting_shorter_trips_reads_the_raw_rides_and_both_paths_agree_otherwise(
    clean_db: AsyncEngine,
) -> None:
    riders = [await _user(clean_db) for _ in range(3)]
    await _join(clean_db, riders[0], await _class(clean_db))
    for rider, distance in zip(riders, (250.0, 2000.0, 800.0), strict=True):
        await _ride(clean_db, rider, BASE + timedelta(days=1, hours=3), distance_m=distance)
        await _ride(clean_db, rider, BASE + timedelta(days=9), distance_m=distance * 2)
    for rider in riders[1:]:
        await _run(
            clean_db,
            "INSERT INTO consent_record (id, user_id, purpose, granted, policy_version, recorded_at,"
            " given_by) VALUES (gen_random_uuid(), :u, 'leaderboard', true, '2026-01', :t, 'self')",
            u=rider,
            t=BASE - timedelta(days=1),
        )
    challenge_id = uuid.uuid4()
    await _run(
        clean_db,
        "INSERT INTO challenge (id, name, scope, metric, starts_at, ends_at, created_at)"
        " VALUES (:id, 'c', 'city', 'distance', :t0, :t1, now())",
        id=challenge_id,
        t0=BASE + timedelta(hours=5),  # edges: part of a day at both ends
        t1=BASE + timedelta(days=9, hours=1),
    )
    sessions = make_sessionmaker(clean_db)
    async with sessions() as session:
        viewer = await session.get(User, riders[1])
        assert viewer is not None
        stored = await challenges.challenge_leaderboard(session, viewer, challenge_id, now=BASE)
        same_rules = replace(DEFAULT_RULES, min_trip_m=STORED_MIN_TRIP_M + 1e-9)  # forces the raw rides
        raw = await challenges.challenge_leaderboard(
            session, viewer, challenge_id, now=BASE, rules=same_rules
        )
        shorter = replace(DEFAULT_RULES, min_trip_m=200)
        longer = await challenges.challenge_leaderboard(
            session, viewer, challenge_id, now=BASE, rules=shorter
        )

    def shape(board: Board) -> tuple[Any, ...]:
        teams = [(t.team_id, t.rank, t.members, t.active_members, round(t.total, 9)) for t in board.teams]
        people = [(p.rank, p.nickname, round(p.value, 9)) for p in board.individuals]
        return teams, people, board.members, board.active, round(board.total, 9)

    assert shape(stored.board) == shape(raw.board)
    assert [p.value for p in stored.board.individuals] == pytest.approx([6.0, 2.4])
    assert stored.achieved == pytest.approx(6.0 + 2.4 + 0.5)  # the 250 m ride is too short
    assert longer.achieved == pytest.approx(stored.achieved + 0.25)
