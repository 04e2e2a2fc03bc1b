"""Leaderboards and challenge standings at city scale, against a bare SQL aggregate of the same rows.

A city of 20 000 users (20 schools of 30 classes of 25 pupils, 5 000 citizens
in no class; 60 % with the leaderboard consent, children among them only with a
guardian's), 1 000 000 ledger entries over the last year and 400 000 rides over
the last 120 days are seeded with ``generate_series`` into a scratch database
(``DATABASE_URL``, whose tables are emptied first, or an embedded server). The
seed goes through the real triggers, which keep the running totals the
standings read (``gamification.leaderboards.store``, migrations 0008 and 0009); creating
the two challenges fills their per-participant totals from the seeded rides.

Timed, through the service functions the API calls (p50 / p95 over ``--runs``):
the city and school leaderboards of the month and the week
(``gamification.challenges.leaderboards``), and the city and school standings
of a 30-day distance challenge (``challenge_leaderboard``), the city one also
once its target is reached (each read then checks for participants still
owed the completion points). Each is compared
with the bare aggregate of the raw rows
(``SELECT user_id, sum(...) ... GROUP BY user_id ORDER BY 2 DESC LIMIT 50``),
which ignores rosters, teams and consent: a ratio below 1 is what the stored
totals save over reading the rows, rosters and consent included.

Calls go through a connection pool, as the API's do (``api.database.make_engine``);
``--fresh-connections`` opens a new connection (a new PostgreSQL backend with
cold caches, about 20 ms here) for every call instead, as this bench used to.
Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.database import make_engine, make_sessionmaker
from bench.scratch import scratch_database
from domain.accounts.tables import User
from gamification.challenges import service as challenges
from gamification.leaderboards.service import leaderboards
from gamification.streaks import CITY_TZ
from gamification.tables import Challenge

SCHOOLS, CLASSES_PER_SCHOOL, PUPILS_PER_CLASS, USERS = 20, 30, 25, 20_000
ENTRIES, RIDES = 1_000_000, 400_000

_SEED = [
    """
    INSERT INTO school (id, name, lat, lon, created_at)
    SELECT gen_random_uuid(), 'School ' || s, 51.0 + s * 0.001, 4.47, now()
    FROM generate_series(1, :schools) s
    """,
    """
    INSERT INTO school_class (id, school_id, name, created_at)
    SELECT gen_random_uuid(), s.id, 'Class ' || c, now() FROM school s, generate_series(1, :classes) c
    """,
    """
    INSERT INTO app_user (id, handle, handle_key, password_hash, role, birth_year, nickname, privacy_seed,
                          created_at)
    SELECT gen_random_uuid(), 'u' || i, 'u' || i, 'x', 'citizen', CASE WHEN i % 5 < 2 THEN 2016 ELSE 1985 END,
           'Rider ' || i, '\\x00', now()
    FROM generate_series(1, :users) i
    """,
    """
    INSERT INTO class_membership (class_id, user_id, joined_at)
    SELECT c.id, u.id, now()
    FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM school_class) c
    JOIN (SELECT id, row_number() OVER (ORDER BY handle) - 1 AS k FROM app_user) u
      ON u.k / :pupils = c.k
    """,
    """
    INSERT INTO consent_record (id, user_id, purpose, granted, policy_version, recorded_at, given_by)
    SELECT gen_random_uuid(), id, 'leaderboard', true, '2026-01', now() - interval '1 day',
           CASE WHEN birth_year > 2010 AND random() < 0.5 THEN 'guardian' ELSE 'self' END
    FROM app_user WHERE random() < 0.6
    """,
    """
    INSERT INTO points_entry (id, user_id, amount, reason, source, day, created_at)
    SELECT gen_random_uuid(), u.id, 1 + (i % 30), 'ride', i::text,
           (now() AT TIME ZONE 'Europe/Brussels')::date - (i % 365), now()
    FROM generate_series(1, :entries) i
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM app_user) u
      ON u.k = 1 + (i::bigint * 7919) % :users
    """,
    """
    INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution, cell_count,
                      segment_count, trimmed_m, point_count, kept_point_count, incidents_filed, created_at,
                      flagged, flags)
    SELECT gen_random_uuid(), u.id,
           CASE WHEN i % 10 = 0 THEN 'walk' WHEN i % 23 = 0 THEN 'motorised' ELSE 'bike' END,
           200 + (i::bigint * 37) % 6000, 900,
           now() - (i % 120) * interval '1 day' - (i % 600) * interval '1 minute',
           10, 50, 1, 300, 900, 900, 0, now(), i % 97 = 0, '{}'
    FROM generate_series(1, :rides) i
    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS k FROM app_user) u
      ON u.k = 1 + (i::bigint * 104729) % :users
    """,
]

_BARE_POINTS = sa.text(
    "SELECT user_id, sum(amount) FROM points_entry WHERE day >= :d0 AND day < :d1"
    " GROUP BY user_id ORDER BY 2 DESC LIMIT 50"
)
_BARE_RIDES = sa.text(
    "SELECT user_id, sum(distance_m) FROM ride WHERE started_at >= :t0 AND started_at < :t1"
    " GROUP BY user_id ORDER BY 2 DESC LIMIT 50"
)


async def seed(service_engine: AsyncEngine) -> None:
    """Seeding statements run for minutes: a connection of its own, without the service's 30 s timeout."""
    engine = create_async_engine(
        service_engine.url, poolclass=NullPool, connect_args={"command_timeout": None}
    )
    params = {
        "schools": SCHOOLS,
        "classes": CLASSES_PER_SCHOOL,
        "users": USERS,
        "pupils": PUPILS_PER_CLASS,
        "entries": ENTRIES,
        "rides": RIDES,
    }
    async with engine.begin() as conn:
        names = (
            (
                await conn.execute(
                    sa.text(
                        "SELECT tablename FROM pg_tables"
                        " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
        for statement in _SEED:
            await conn.execute(sa.text(statement), params)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))
    await engine.dispose()


async def timings(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    await call()  # warm plans and caches
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - start)
    q = statistics.quantiles(seconds, n=20)
    return statistics.median(seconds) * 1000, q[18] * 1000


async def main(runs: int, *, reuse: bool, fresh_connections: bool) -> None:
    async with scratch_database() as scratch:
        started = time.perf_counter()
        if not reuse:
            await seed(scratch)
            print(
                f"seeded {USERS} users, {ENTRIES} ledger entries, {RIDES} rides"
                f" in {time.perf_counter() - started:.0f} s"
            )
        url = scratch.url.render_as_string(hide_password=False)
        engine = scratch if fresh_connections else make_engine(url)
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        async with sessions() as session:
            viewer = (await session.execute(sa.select(User).where(User.handle == "u1"))).scalar_one()  # type: ignore[arg-type]
            school_id = (
                await session.execute(sa.text("SELECT id FROM school ORDER BY name LIMIT 1"))
            ).scalar_one()
            admin_view = User(
                id=viewer.id,
                handle="a",
                handle_key="a",
                password_hash="x",  # noqa: S106 - a viewer that never logs in
                role="admin",
                nickname="a",
            )
            window = (now - timedelta(days=30), now)
            await session.execute(sa.text("DELETE FROM challenge"))
            await session.execute(sa.text("DELETE FROM points_entry WHERE reason = 'challenge'"))
            kinds = {
                "city": ("city", None, None),
                "school": ("school", school_id, None),
                "reached": ("city", None, 1),
            }
            for name, (scope, scope_id, target) in kinds.items():
                session.add(
                    Challenge(
                        name=name,
                        scope=scope,
                        school_id=scope_id,
                        metric="distance",
                        starts_at=window[0],
                        ends_at=window[1],
                        target=target,
                    )
                )
            await session.commit()
            ids = {r.name: r.id for r in await session.execute(sa.text("SELECT name, id FROM challenge"))}
        async with engine.connect() as conn:
            # the challenges were just filled, and a previous run's completion points taken back out
            # of the totals: clean up and give the planner the statistics autovacuum would
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE challenge_total, points_entry, points_period_total"))

        today = now.astimezone(CITY_TZ).date()

        async def run(fn: Callable[[AsyncSession], Awaitable[object]]) -> object:
            async with sessions() as session:
                return await fn(session)

        def board(scope: str, period: str, scope_id: object = None) -> Callable[[], Awaitable[object]]:
            return lambda: run(
                lambda s: leaderboards(
                    s,
                    admin_view,
                    scope=scope,
                    period=period,
                    scope_id=scope_id,
                    now=now,  # type: ignore[arg-type]
                )
            )

        def standing(name: str) -> Callable[[], Awaitable[object]]:
            return lambda: run(lambda s: challenges.challenge_leaderboard(s, admin_view, ids[name], now=now))

        def bare_points(days: int) -> Callable[[], Awaitable[object]]:
            d0 = today.replace(day=1) if days > 7 else today - timedelta(days=today.weekday())
            return lambda: run(lambda s: s.execute(_BARE_POINTS, {"d0": d0, "d1": today + timedelta(days=1)}))

        bare_rides = lambda: run(lambda s: s.execute(_BARE_RIDES, {"t0": window[0], "t1": window[1]}))  # noqa: E731
        cases = [
            ("leaderboard city/month", board("city", "month"), bare_points(31)),
            ("leaderboard city/week", board("city", "week"), bare_points(7)),
            ("leaderboard school/month", board("school", "month", school_id), bare_points(31)),
            ("challenge city/30 days", standing("city"), bare_rides),
            ("challenge school/30 days", standing("school"), bare_rides),
            # target reached: the first (untimed) read pays every participant, later reads the newcomers
            ("challenge city, reached", standing("reached"), bare_rides),
        ]
        print(f"{'query':<28}{'p50 ms':>9}{'p95 ms':>9}{'bare p50':>10}{'bare p95':>10}{'ratio p95':>11}")
        for name, call, bare in cases:
            p50, p95 = await timings(runs, call)
            b50, b95 = await timings(runs, bare)
            print(f"{name:<28}{p50:>9.1f}{p95:>9.1f}{b50:>10.1f}{b95:>10.1f}{p95 / b95:>11.2f}")
        if engine is not scratch:
            await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="DATABASE_URL is already seeded: time only")
    parser.add_argument(
        "--fresh-connections", action="store_true", help="a new connection per call instead of a pool"
    )
    args = parser.parse_args()
    asyncio.run(main(args.runs, reuse=args.reuse, fresh_connections=args.fresh_connections))
