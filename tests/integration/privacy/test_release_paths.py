"""Every way a figure about people leaves goes through the one release mechanism.

Every route the app serves and every CLI command is classified below; a new
one fails the first tests until someone says whether it emits aggregates. Each
route and command that does is then called on an empty release store and must
have made (or served) a release of the right dataset: none of them can read
the rides another way.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h3
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli import opendata as open_data_cli
from api.cli.main import build_parser
from api.settings import Settings
from domain.core.enums import Role
from tests.integration.authz_helpers import operations
from tests.integration.planner_helpers import CELL, CROWD, LAST_MONTH, Seed
from tests.integration.route_helpers import MAIN, crowd, ride
from tests.integration.school_helpers import staff

RELEASE = "release"
EMITTERS: dict[tuple[str, str], str] = {
    ("GET", "/planner/heatmap"): RELEASE,
    ("GET", "/planner/flows"): RELEASE,
    ("GET", "/planner/graphhopper-model"): RELEASE,
    ("GET", "/planner/schools/{school_id}/route-report"): RELEASE,
    ("GET", "/ngsi-ld/v1/entities"): RELEASE,
    ("GET", "/ngsi-ld/v1/entities/{entity_id}"): RELEASE,
    ("GET", "/routes/safe"): RELEASE,
    ("GET", "/routes/safe.gpx"): RELEASE,
    ("GET", "/planner/privacy-ledger"): "the ledger: what each release cost, how many cells it showed",
    ("GET", "/planner/exports"): "the audit log: who exported what",
    ("GET", "/hazards"): "public facts: hazards people reported publicly",
    ("GET", "/hazards/{hazard_id}"): "public facts",
    ("GET", "/hazards/{hazard_id}/reports"): "a planner's triage: report texts, no reporter",
    ("GET", "/open311/v2/requests.json"): "public facts (hazards)",
    ("GET", "/open311/v2/requests/{request_file}"): "public facts (hazards)",
    ("GET", "/open311/v2/services.json"): "the category catalogue",
    ("GET", "/hazard-categories"): "the category catalogue",
    ("GET", "/badges"): "the badge catalogue",
    ("GET", "/challenges"): "challenge definitions",
    ("GET", "/challenges/{challenge_id}"): "a challenge definition",
    ("GET", "/challenges/{challenge_id}/leaderboard"): "its participants' standings, individuals by consent",
    ("GET", "/leaderboards"): "the caller's class, school or city, individuals by leaderboard consent",
    ("GET", "/classes/{class_id}"): "a teacher's own class: nicknames and counts",
    ("GET", "/schools"): "public facts: school names and places (for planners and admins)",
    ("GET", "/me"): "the caller's own data",
    ("GET", "/me/badges"): "the caller's own data",
    ("GET", "/me/consents"): "the caller's own data",
    ("GET", "/me/export"): "the caller's own data",
    ("GET", "/me/points"): "the caller's own data",
    ("GET", "/me/privacy-zones"): "the caller's own data",
    ("GET", "/rides"): "the caller's own data",
    ("GET", "/rides/{ride_id}"): "the caller's own data",
    ("GET", "/health"): "liveness",
    ("GET", "/ready"): "readiness",
    ("GET", "/metrics"): "request counts and latencies",
    ("GET", "/planner/map"): "a static page",
    ("GET", "/streets"): "public facts: the imported OpenStreetMap extract",
    ("GET", "/streets/network"): "public facts: the imported OpenStreetMap extract",
    ("GET", "/static/{file_path}"): "static files",
    ("GET", "/ngsi-ld/contexts/saferoutes.jsonld"): "a JSON-LD context",
}
WRITES = "a write: answers about what it wrote"
CLI: dict[str, str] = {
    "export": RELEASE,
    "open-data": RELEASE,
    "serve": "runs the API",
    "migrate": "the schema",
    "create-user": "an account",
    "demo": "writes a demo city",
    "ngsi-push": "public hazards",
    "retention": "deletes",
    "streets": "import: map data, nothing about people; export-graphhopper: a release (tested in streets/)",
}


def _classified(op: tuple[str, str]) -> str | None:
    if op[0] in ("POST", "PUT", "PATCH", "DELETE"):
        return WRITES
    return EMITTERS.get(op)


async def test_every_route_is_classified(client: AsyncTestClient[Litestar]) -> None:
    served = {op for op in operations(client.app) if not op[1].startswith("/schema")}
    missing = sorted(op for op in served if _classified(op) is None)
    assert not missing, f"say whether these emit aggregates (EMITTERS): {missing}"
    assert not sorted(set(EMITTERS) - served), "EMITTERS names routes the app no longer has"


def test_every_cli_command_is_classified() -> None:
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert commands == set(CLI)


async def _releases(engine: AsyncEngine) -> list[str]:
    async with engine.begin() as conn:
        return list((await conn.execute(sa.text("SELECT dataset FROM privacy_release ORDER BY 1"))).scalars())


async def _forget_releases(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("TRUNCATE privacy_release, privacy_ledger CASCADE"))


async def test_each_emitter_reads_a_release_and_nothing_else(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar], settings: Settings, tmp_path: Path
) -> None:
    seed = Seed(clean_db)
    for _ in range(CROWD):
        await seed.exposure(await seed.user(), [CELL], day=LAST_MONTH)
    school_id, _ = await seed.school_with_class(CELL)
    await ride(clean_db, await crowd(clean_db), MAIN)
    entity = f"urn:ngsi-ld:SafeRoutesCellStatistic:{h3.cell_to_parent(CELL, 9)}"
    lat, lon = h3.cell_to_latlng(MAIN[0])
    lat2, lon2 = h3.cell_to_latlng(MAIN[-1])
    calls: dict[tuple[str, str], tuple[str, dict[str, Any], str]] = {
        ("GET", "/planner/heatmap"): ("/planner/heatmap", {}, "cells"),
        ("GET", "/planner/flows"): ("/planner/flows", {}, "flows"),
        ("GET", "/planner/graphhopper-model"): ("/planner/graphhopper-model", {}, "cells"),
        ("GET", "/planner/schools/{school_id}/route-report"): (
            f"/planner/schools/{school_id}/route-report",
            {},
            "cells",
        ),
        ("GET", "/ngsi-ld/v1/entities"): (
            "/ngsi-ld/v1/entities",
            {"type": "SafeRoutesCellStatistic"},
            "cells",
        ),
        ("GET", "/ngsi-ld/v1/entities/{entity_id}"): (f"/ngsi-ld/v1/entities/{entity}", {}, "cells"),
        ("GET", "/routes/safe"): ("/routes/safe", {"from": f"{lat},{lon}", "to": f"{lat2},{lon2}"}, "cells"),
        ("GET", "/routes/safe.gpx"): (
            "/routes/safe.gpx",
            {"from": f"{lat},{lon}", "to": f"{lat2},{lon2}"},
            "cells",
        ),
    }
    assert set(calls) == {op for op, kind in EMITTERS.items() if kind == RELEASE}
    for op, (path, params, dataset) in calls.items():
        await _forget_releases(clean_db)
        async with AsyncTestClient(app=make_app(release_max_cells=16)) as client:
            planner = await staff(client, Role.PLANNER)
            answer = await client.get(path, params=params, headers=planner.auth)
        assert answer.status_code == 200, (op, answer.text)
        assert await _releases(clean_db) == [dataset], op
    await _forget_releases(clean_db)
    args = argparse.Namespace(out=tmp_path / "dump", month=None, quiet=True)
    assert await open_data_cli._dump(settings, settings.database_url or "", args) == 0
    assert await _releases(clean_db) == ["cells"], "saferoutes open-data"
