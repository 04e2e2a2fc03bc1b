"""GET /routes/safe on an imported street network: real Helsinki streets, and a hand-made fast street."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest
import shapely
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.demo.service import DEMO_EXTRACT
from domain.streets import service as streets
from domain.streets.rules import bicycle_directions, classify
from geo.streets.graph import local_xy
from tests.clock import session_clock

Client = AsyncTestClient[Litestar]
HELSINKI = DEMO_EXTRACT
REF_LAT = 60.17


def _ignore(stage: str, count: int) -> None:
    return None


class Extract:
    """The extract's bicycle-legal ways as lines (local metres), and the node pairs one-ways allow."""

    def __init__(self, path: Path) -> None:
        lines = []
        self.forbidden_pairs: set[tuple[tuple[float, float], tuple[float, float]]] = set()
        self.allowed_pairs: set[tuple[tuple[float, float], tuple[float, float]]] = set()
        self.bbox = [180.0, 90.0, -180.0, -90.0]
        for way in (
            osmium.FileProcessor(str(path)).with_locations().with_filter(osmium.filter.KeyFilter("highway"))
        ):
            if not way.is_way():
                continue
            tags = dict(way.tags)
            rules = classify(tags)
            if rules is None or not (rules.bicycle_forward or rules.bicycle_backward):
                continue
            pts = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
            if len(pts) < 2:
                continue
            lon, lat = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
            x, y = local_xy(lon, lat, REF_LAT)
            lines.append(shapely.linestrings(np.stack([x, y], axis=1)))
            forward, backward = bicycle_directions(tags, tags["highway"])
            keyed = [(round(a, 7), round(b, 7)) for a, b in pts]
            for a, b in itertools.pairwise(keyed):
                for pair, ok in (((a, b), forward), ((b, a), backward)):
                    (self.allowed_pairs if ok else self.forbidden_pairs).add(pair)
            self.bbox = [
                min(self.bbox[0], *lon),
                min(self.bbox[1], *lat),
                max(self.bbox[2], *lon),
                max(self.bbox[3], *lat),
            ]
        self.legal = shapely.union_all(lines)


@pytest.fixture(scope="module")
def extract() -> Extract:
    return Extract(HELSINKI)


@pytest.fixture
async def client(clean_db: AsyncEngine, make_app: Callable[..., Litestar]) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=make_app()) as test_client:
        yield test_client


async def test_routes_follow_legal_streets_and_never_ride_against_a_one_way(
    clean_db: AsyncEngine, client: Client, extract: Extract
) -> None:
    await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
    rng = random.Random(21)
    west, south, east, north = extract.bbox
    answered = 0
    for _ in range(25):
        a = (rng.uniform(south, north), rng.uniform(west, east))
        b = (rng.uniform(south, north), rng.uniform(west, east))
        for profile in ("shortest", "child"):
            response = await client.get(
                "/routes/safe", params={"from": f"{a[0]},{a[1]}", "to": f"{b[0]},{b[1]}", "profile": profile}
            )
            if response.status_code == 422:
                assert response.json()["type"].endswith(("outside-service-area", "unreachable"))
                continue
            assert response.status_code == 200, response.text
            answered += 1
            feature = response.json()
            props = feature["properties"]
            assert props["network"] == "streets" and props["steps"][-1]["turn"] == "arrive"
            assert props["separatedM"] <= props["lengthM"] + 0.1
            coords = feature["geometry"]["coordinates"]
            lon, lat = np.array([c[0] for c in coords]), np.array([c[1] for c in coords])
            x, y = local_xy(lon, lat, REF_LAT)
            off = shapely.distance(extract.legal, shapely.points(x, y))
            assert float(off.max()) < 0.5, f"a vertex lies {off.max():.1f} m off every bicycle-legal way"
            keyed = [(round(c[0], 7), round(c[1], 7)) for c in coords]
            against = [
                p
                for p in itertools.pairwise(keyed)
                if p in extract.forbidden_pairs and p not in extract.allowed_pairs
            ]
            assert not against, f"rides against a one-way: {against[:3]}"
    assert answered >= 30


async def _insert_network(engine: AsyncEngine, segments: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO street_network (id, source, imported_at, segment_count, way_count, length_m) "
                "VALUES (1, 'hand-made', now(), :n, :n, 0)"
            ),
            {"n": len(segments)},
        )
        for i, seg in enumerate(segments, start=1):
            await conn.execute(
                sa.text(
                    "INSERT INTO street_segment (network_id, id, way_id, from_node, to_node, lons, lats, "
                    "length_m, name, highway, bicycle_forward, bicycle_backward, foot, infrastructure, "
                    "maxspeed_kmh, maxspeed_tagged) VALUES (1, :id, :way, :a, :b, :lons, :lats, :length, "
                    ":name, :highway, true, true, true, :infra, :speed, true)"
                ),
                {"id": i, "way": 100 + i, **seg},
            )


M_LAT = 1 / 111_195.0
M_LON = M_LAT / np.cos(np.radians(REF_LAT))


def _street(
    a: int, b: int, pa: tuple[float, float], pb: tuple[float, float], name: str | None, speed: int
) -> dict[str, Any]:
    lons = [24.94 + pa[0] * M_LON, 24.94 + pb[0] * M_LON]
    lats = [REF_LAT + pa[1] * M_LAT, REF_LAT + pb[1] * M_LAT]
    quiet = speed <= 30
    return {
        "a": a, "b": b, "lons": lons, "lats": lats, "length": float(np.hypot(pb[0] - pa[0], pb[1] - pa[1])),
        "name": name, "highway": "residential" if quiet else "secondary",
        "infra": "shared_quiet" if quiet else "none", "speed": speed,
    }  # fmt: skip


async def test_the_child_profile_avoids_a_fast_street_the_shortest_route_takes(
    clean_db: AsyncEngine, client: Client
) -> None:
    """A 50 km/h main road straight from A to B (400 m), and 30 km/h side streets around it (600 m)."""
    await _insert_network(
        clean_db,
        [
            _street(1, 2, (0, 0), (400, 0), "Main Road", 50),
            _street(1, 3, (0, 0), (0, 100), "Side Street", 30),
            _street(3, 4, (0, 100), (400, 100), "Quiet Lane", 30),
            _street(4, 2, (400, 100), (400, 0), "Back Street", 30),
        ],
    )
    a = f"{REF_LAT + 0 * M_LAT},{24.94 + 1 * M_LON}"
    b = f"{REF_LAT + 0 * M_LAT},{24.94 + 399 * M_LON}"
    child = await client.get("/routes/safe", params={"from": a, "to": b, "profile": "child"})
    assert child.status_code == 200, child.text
    props = child.json()["properties"]
    names = [s["name"] for s in props["steps"]]
    assert names == ["Main Road", "Side Street", "Quiet Lane", "Back Street", "Main Road", "Main Road"]
    assert sum(s["distanceM"] for s in props["steps"] if s["name"] == "Main Road") < 3
    assert props["lengthM"] > 550
    assert props["shortest"]["lengthM"] == pytest.approx(398, abs=1)
    shortest = await client.get("/routes/safe", params={"from": a, "to": b, "profile": "shortest"})
    assert [s["name"] for s in shortest.json()["properties"]["steps"]] == ["Main Road", "Main Road"]


async def test_an_unnamed_way_reads_as_a_null_name_in_steps_and_on_the_basemap(
    clean_db: AsyncEngine, client: Client
) -> None:
    """A named street, then two unnamed ways east: one stored as NULL, one as "" (as rows may hold)."""
    await _insert_network(
        clean_db,
        [
            _street(1, 2, (0, 0), (200, 0), "Main Road", 30),
            _street(2, 3, (200, 0), (300, 0), "", 30),
            _street(3, 4, (300, 0), (400, 0), None, 30),
        ],
    )
    a = f"{REF_LAT},{24.94 + 1 * M_LON}"
    b = f"{REF_LAT},{24.94 + 399 * M_LON}"
    route = await client.get("/routes/safe", params={"from": a, "to": b, "profile": "safest"})
    assert route.status_code == 200, route.text
    steps = route.json()["properties"]["steps"]
    assert [(s["name"], s["turn"]) for s in steps] == [
        ("Main Road", "depart"),
        (None, "straight"),
        (None, "arrive"),
    ]
    assert steps[1]["distanceM"] == pytest.approx(199, abs=1), "both unnamed ways are one step"

    box = f"24.939,{REF_LAT - 0.001},24.95,{REF_LAT + 0.001}"
    basemap = await client.get("/streets", params={"bbox": box})
    assert basemap.status_code == 200, basemap.text
    names = {f["id"]: f["properties"]["name"] for f in basemap.json()["features"]}
    assert names == {1: "Main Road", 2: None, 3: None}


async def test_a_point_far_from_every_street_is_outside_the_service_area(
    clean_db: AsyncEngine, client: Client
) -> None:
    await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
    response = await client.get("/routes/safe", params={"from": "60.17,24.94", "to": "60.5,25.5"})
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("outside-service-area") and body["errors"][0]["field"] == "to"


async def test_a_worker_picks_up_an_imported_network_at_its_next_check(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> None:
    params = {"from": "60.1700,24.9430", "to": "60.1720,24.9480", "profile": "child"}
    async with AsyncTestClient(app=make_app(routing_check_s=0)) as worker:
        before = await worker.get("/routes/safe", params=params)
        assert before.status_code == 503  # nobody rode, no streets: the cell graph has nothing yet
        await streets.import_extract(clean_db, HELSINKI, now=session_clock(), progress=_ignore)
        await worker.get("/routes/safe", params=params)  # the stamp moved: rebuilt in the background
        worker.blocking_portal.call(worker.app.state.route_graphs.settled)
        after = await worker.get("/routes/safe", params=params)
        assert after.status_code == 200, after.text
        assert after.json()["properties"]["network"] == "streets"
