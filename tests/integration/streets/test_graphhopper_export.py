"""The GraphHopper custom model over HTTP and from the command line: guarded, audited, from the release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio.to_thread
import h3
import jsonschema
import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from shapely.geometry import Point, shape
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli.main import main
from domain.core.enums import Role
from tests.integration.conftest import Register
from tests.integration.route_helpers import DETOUR, JUNCTION, MAIN, confirmed_hazard, crowd, ride
from tests.integration.school_helpers import staff

Client = AsyncTestClient[Litestar]
RELEASE_ENV = {
    "SAFEROUTES_PRIVACY_EPSILON": "10",
    "SAFEROUTES_PRIVACY_BUDGET": "1000000",
    "SAFEROUTES_RELEASE_MAX_CELLS": "4",
    "SAFEROUTES_RELEASE_MAX_PASSES": "4",
    "SAFEROUTES_RELEASE_RESOLUTION": "10",
    "SAFEROUTES_OPEN_DATA_RESOLUTION": "9",
}
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "data" / "graphhopper" / "custom-model.schema.json").read_text()
)


async def dangerous_junction(client: Client, engine: AsyncEngine, register: Register) -> None:
    """A crowd rode the main street and the detour last month; three confirmed hazards at the junction."""
    riders = await crowd(engine)
    await ride(engine, riders, MAIN)
    await ride(engine, riders, DETOUR)
    for _ in range(3):
        reporters = [await register(consents=("hazard_reporting",)) for _ in range(2)]
        await confirmed_hazard(client, reporters[0], reporters[1], JUNCTION)


def _junction_area(model: dict[str, Any]) -> str:
    lat, lon = h3.cell_to_latlng(JUNCTION)
    hits = [f["id"] for f in model["areas"]["features"] if shape(f["geometry"]).contains(Point(lon, lat))]
    assert len(hits) == 1, hits
    return str(hits[0])


async def test_a_planner_downloads_a_model_graphhopper_reads(
    client: Client, clean_db: AsyncEngine, register: Register
) -> None:
    await dangerous_junction(client, clean_db, register)
    planner = await staff(client, Role.PLANNER)
    answer = await client.get("/planner/graphhopper-model", params={"profile": "child"}, headers=planner.auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert 'filename="saferoutes-graphhopper-child-' in answer.headers["content-disposition"]
    model = answer.json()
    jsonschema.validate(model, SCHEMA)
    area = _junction_area(model)
    rule = next(s for s in model["priority"] if s.get("if") == f"in_{area}")
    assert float(rule["multiply_by"]) < 0.5

    log = (await client.get("/planner/exports", headers=planner.auth)).json()["items"]
    assert log[0]["kind"] == "graphhopper"
    assert log[0]["parameters"]["profile"] == "child" and log[0]["parameters"]["areas"] >= 1


async def test_only_planners_may_and_the_profile_is_checked(client: Client, register: Register) -> None:
    citizen = await register()
    assert (await client.get("/planner/graphhopper-model")).status_code == 401
    assert (await client.get("/planner/graphhopper-model", headers=citizen.auth)).status_code == 403
    planner = await staff(client, Role.PLANNER)
    bad = await client.get("/planner/graphhopper-model", params={"profile": "fastest"}, headers=planner.auth)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "profile"


async def test_the_command_writes_the_same_model(
    client: Client,
    clean_db: AsyncEngine,
    register: Register,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: Any,
) -> None:
    await dangerous_junction(client, clean_db, register)
    planner = await staff(client, Role.PLANNER)
    served = (await client.get("/planner/graphhopper-model", headers=planner.auth)).json()
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+asyncpg", ""))
    for name, value in RELEASE_ENV.items():  # the test settings' release policy: the same release is served
        monkeypatch.setenv(name, value)
    out = tmp_path / "safest.json"
    command = ["streets", "export-graphhopper", "-o", str(out)]
    assert await anyio.to_thread.run_sync(main, command) == 0  # the command runs its own event loop
    written = json.loads(out.read_text())
    assert written == served
    jsonschema.validate(written, SCHEMA)
    assert "danger areas" in capsys.readouterr().err
    async with clean_db.connect() as conn:
        kinds = (await conn.execute(sa.text("SELECT kind, actor_role FROM export_audit"))).all()
    assert ("graphhopper", "cli") in {tuple(k) for k in kinds}
