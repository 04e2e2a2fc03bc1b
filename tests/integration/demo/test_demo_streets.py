"""The demo city rides the imported streets: trips follow legal ways, stored rides lie on the streets.

The demo imports its extract (Helsinki's centre by default) as the network routes
use, reads it back, and simulates every ride on it. A trip must go from point to
point of the segments' geometry only along a way the mode may use, in a direction
it may use it (no one-way ridden against by a bicycle); and what the ride pipeline
stores of a demo ride (its H3 cells) must be the streets' cells.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import h3.api.basic_int as h3i
import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli.demo import _auth
from api.cli.main import main
from api.database import make_sessionmaker
from api.settings import Settings
from domain.core.codes import CodeHasher
from domain.demo.service import DEMO_EXTRACT, DemoSize, is_empty, load_streets, seed_city
from domain.rides.tables import Ride, RideCell
from domain.streets import store
from domain.streets.rules import UnreadableExtract, carries_motor_traffic
from geo.simulator import Mode, StreetMap, simulate_ride
from geo.streets.graph import cells_along, local_xy
from tests.clock import TEST_NOW

Pair = tuple[tuple[float, float], tuple[float, float]]


def _quiet(step: str, done: int, total: int) -> None:
    return None


def _legal_steps(segments: store.Segments, mode: Mode) -> set[Pair]:
    """Every step from one geometry point to the next that ``mode`` may take, from the tags alone."""
    steps: set[Pair] = set()
    for s in range(len(segments.highway)):
        if mode == "walk":
            forward = backward = bool(segments.foot[s])
        else:
            forward, backward = bool(segments.bicycle_forward[s]), bool(segments.bicycle_backward[s])
            if mode == "car" and not carries_motor_traffic(segments.highway[s]):
                forward = backward = False
        points = [(float(la), float(lo)) for la, lo in zip(segments.lats[s], segments.lons[s], strict=True)]
        for a, b in itertools.pairwise(points):
            if forward:
                steps.add((a, b))
            if backward:
                steps.add((b, a))
    return steps


@pytest.fixture
async def extract(clean_db: AsyncEngine) -> tuple[StreetMap, store.Segments]:
    streets, count = await load_streets(clean_db, DEMO_EXTRACT, now=TEST_NOW, progress=_quiet)
    async with clean_db.connect() as conn:
        network = await store.active_network(conn)
        assert network is not None
        segments = await store.load_segments(conn, network)
    assert count == len(segments.highway) > 4000
    return streets, segments


@pytest.mark.parametrize("mode", ["bike", "walk", "car"])
async def test_every_trip_follows_ways_the_mode_may_use_in_a_legal_direction(
    mode: Mode, extract: tuple[StreetMap, store.Segments]
) -> None:
    streets, segments = extract
    legal = _legal_steps(segments, mode)
    rng = random.Random(7)
    here = streets.start(rng, mode)
    taken: set[Pair] = set()
    for _ in range(60):
        points, end = streets.trip(rng, mode, here)
        assert points[0][:2] == streets.position(here)
        assert points[-1][:2] == streets.position(end)
        assert points[-1][2]  # a trip ends at a junction
        for a, b in itertools.pairwise(points):
            step = (a[:2], b[:2])
            assert step in legal, f"{mode} took a step no way allows: {step}"
            taken.add(step)
        here = end
    assert len(taken) > 200  # the trips went places
    if mode == "bike":
        # the test can fail: Helsinki's centre has one-ways, and bicycles rode them only forward
        one_way = {(b, a) for a, b in legal if (b, a) not in legal}
        assert one_way, "no one-way in the extract: the direction check would prove nothing"
        assert not (taken & one_way)


@pytest.mark.parametrize("mode", ["bike", "walk"])
async def test_a_simulated_ride_runs_on_the_streets(
    mode: Mode, extract: tuple[StreetMap, store.Segments]
) -> None:
    streets, segments = extract
    usable = segments.foot if mode == "walk" else segments.bicycle_forward | segments.bicycle_backward
    ref = streets.centre[0]
    lines = []
    for s in np.flatnonzero(usable).tolist():
        x, y = local_xy(segments.lons[s], segments.lats[s], ref)
        lines.append(shapely.linestrings(np.stack([x, y], axis=1)))
    ways = shapely.union_all(lines)
    ride = simulate_ride(random.Random(3), mode=mode, duration_s=900, streets=streets)
    x, y = local_xy(np.asarray(ride.true_lon), np.asarray(ride.true_lat), ref)
    off = shapely.distance(ways, shapely.points(x, y))
    assert float(off.max()) < 0.5  # metres: every true position is on a way the mode may use
    assert ride.true_distance_m > 1000


async def test_the_demo_city_rides_are_stored_on_the_streets(
    clean_db: AsyncEngine, settings: Settings
) -> None:
    await seed_city(
        clean_db,
        make_sessionmaker(clean_db),
        _auth(settings),
        CodeHasher(settings.secret_key),
        DemoSize(seed=5, users=8, rides=24, hotspots=3),
        policy_version=settings.privacy_policy_version,
        now=TEST_NOW,
        progress=_quiet,
    )
    async with clean_db.connect() as conn:
        network = await store.active_network(conn)
        assert network is not None
        segments = await store.load_segments(conn, network)
        resolution = (await conn.execute(sa.select(sa.func.max(Ride.resolution)))).scalar_one()
        cells = (await conn.execute(sa.select(RideCell.cell))).scalars().all()
    assert resolution is not None
    assert len(cells) > 100
    on_streets: set[int] = set()
    for lats, lons in zip(segments.lats, segments.lons, strict=True):
        on_streets.update(cells_along(lons, lats, resolution))
    near = on_streets | {n for c in on_streets for n in h3i.grid_disk(c, 1)}
    # phone noise moves a few fixes into the next cell, never farther
    assert sum(c in on_streets for c in cells) / len(cells) > 0.9
    assert all(c in near for c in cells)


def test_the_cli_names_a_missing_extract_before_touching_the_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+asyncpg", ""))
    assert main(["demo", "--quiet", "--streets", str(tmp_path / "gent.osm.pbf")]) == 2
    err = capsys.readouterr().err
    assert "error: --streets:" in err and "gent.osm.pbf: no such file" in err


async def test_an_unreadable_extract_stores_nothing(
    clean_db: AsyncEngine, settings: Settings, tmp_path: Path
) -> None:
    bad = tmp_path / "city.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x0dnot a pbf at all")
    with pytest.raises(UnreadableExtract):
        await seed_city(
            clean_db,
            make_sessionmaker(clean_db),
            _auth(settings),
            CodeHasher(settings.secret_key),
            DemoSize(users=8, rides=8, hotspots=1),
            policy_version=settings.privacy_policy_version,
            now=TEST_NOW,
            progress=_quiet,
            extract=bad,
        )
    async with clean_db.connect() as conn:
        assert await is_empty(conn)
        assert await store.active_network(conn) is None
