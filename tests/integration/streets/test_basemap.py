"""GET /streets and /streets/network: the planner map's basemap from the imported network, bounded."""

from __future__ import annotations

from collections.abc import Callable

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.planner.map import page_csp
from tests.integration.street_helpers import import_streets

Client = AsyncTestClient[Litestar]
# central Helsinki (Kamppi - Kluuvi): the extract's streets, well inside its 60 km² cap
CENTRE = "24.925,60.160,24.950,60.175"


async def test_without_a_network_the_box_is_empty_and_the_network_missing(client: Client) -> None:
    answer = await client.get("/streets", params={"bbox": CENTRE})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/geo+json")
    assert answer.json() == {"type": "FeatureCollection", "features": [], "network": None, "nextCursor": None}
    missing = await client.get("/streets/network")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_the_box_returns_the_segments_that_meet_it(client: Client, clean_db: AsyncEngine) -> None:
    report = await import_streets(clean_db)
    network = (await client.get("/streets/network")).json()
    assert network["id"] == report.network_id and network["segmentCount"] == report.counts.segments
    west, south, east, north = network["bbox"]
    assert 24.8 < west < east < 25.1 and 60.1 < south < north < 60.3

    answer = (await client.get("/streets", params={"bbox": CENTRE, "limit": 5000})).json()
    features = answer["features"]
    assert 100 < len(features) < report.counts.segments
    assert answer["network"]["version"] == f"streets-{report.network_id}"
    w, s, e, n = (float(v) for v in CENTRE.split(","))
    for feature in features:
        coordinates = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "LineString" and len(coordinates) >= 2
        lons = [c[0] for c in coordinates]  # GeoJSON order: [lon, lat]
        lats = [c[1] for c in coordinates]
        assert max(lons) >= w - 1e-5 and min(lons) <= e + 1e-5, feature["id"]
        assert max(lats) >= s - 1e-5 and min(lats) <= n + 1e-5, feature["id"]
    assert any(f["properties"]["name"] for f in features)
    assert {f["properties"]["infrastructure"] for f in features} <= {
        "separated",
        "lane",
        "shared_quiet",
        "none",
    }
    ids = [f["id"] for f in features]
    assert ids == sorted(ids)


async def test_pages_follow_each_other_without_gaps_or_repeats(client: Client, clean_db: AsyncEngine) -> None:
    await import_streets(clean_db)
    whole = (await client.get("/streets", params={"bbox": CENTRE, "limit": 5000})).json()
    assert whole["nextCursor"] is None
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"bbox": CENTRE, "limit": 97}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await client.get("/streets", params=params)).json()
        assert len(page["features"]) <= 97
        seen.extend(f["id"] for f in page["features"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert cursor == seen[-1]
    assert seen == [f["id"] for f in whole["features"]]


async def test_a_bad_box_is_a_422_naming_bbox(client: Client) -> None:
    for params in (
        {},
        {"bbox": "24.95,60.16,24.92,60.17"},  # inverted
        {"bbox": "24.0,60.0,25.0,60.5"},  # about 3000 km²
        {"bbox": "24.9,91,25,92"},
    ):
        answer = await client.get("/streets", params=params)
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["errors"][0]["field"] == "bbox", params
    for params in (
        {"bbox": CENTRE, "limit": 0},
        {"bbox": CENTRE, "limit": 5001},
        {"bbox": CENTRE, "cursor": -1},
    ):
        answer = await client.get("/streets", params=params)
        assert answer.status_code in (400, 422), (params, answer.text)


async def test_the_map_page_allows_exactly_the_tile_origin(
    make_app: Callable[..., Litestar], clean_db: AsyncEngine
) -> None:
    async with AsyncTestClient(app=make_app()) as plain:
        page = await plain.get("/planner/map")
    assert page.headers["content-security-policy"] == page_csp(None)
    assert "img-src 'self' data: blob:;" in page.headers["content-security-policy"]
    assert 'data-tiles=""' in page.text

    template = "https://tile.example:8443/osm/{z}/{x}/{y}.png"
    async with AsyncTestClient(app=make_app(basemap_tiles=template)) as tiled:
        page = await tiled.get("/planner/map")
    policy = dict(d.strip().split(" ", 1) for d in page.headers["content-security-policy"].split(";"))
    assert policy["img-src"] == "'self' data: blob: https://tile.example:8443"
    others = {k: v for k, v in policy.items() if k != "img-src"}
    assert others == {
        k: v for k, v in (d.strip().split(" ", 1) for d in page_csp(None).split(";")) if k != "img-src"
    }
    assert f'data-tiles="{template}"' in page.text
