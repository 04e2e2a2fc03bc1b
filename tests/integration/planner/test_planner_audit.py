"""Who may export, the audit log of every export (GET /planner/exports), and the CLI export."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli.main import main
from domain.core.enums import Role
from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.planner_helpers import CROWD, MARCH, MONTH, Seed, sibling_cells
from tests.integration.school_helpers import Client, execute, staff

EXPORTS = ("/planner/heatmap", "/planner/flows")
RELEASE_ENV = {
    "SAFEROUTES_PRIVACY_EPSILON": "10",
    "SAFEROUTES_RELEASE_MAX_CELLS": "4",
    "SAFEROUTES_RELEASE_MAX_PASSES": "4",
    "SAFEROUTES_RELEASE_RESOLUTION": "10",
    "SAFEROUTES_OPEN_DATA_RESOLUTION": "9",
    "SAFEROUTES_PRIVACY_BUDGET": "1000000",
}
"""The test policy of tests/integration/conftest.py, for a command that reads the environment."""


async def _crowd(engine: AsyncEngine, cells: list[str]) -> None:
    """Enough people in each of ``cells`` (a person is bounded to 4 cells) to be released."""
    seed = Seed(engine)
    for start in range(0, len(cells), 4):
        for _ in range(CROWD):
            await seed.exposure(await seed.user(), cells[start : start + 4], day=MARCH)


@pytest.mark.parametrize("path", [*EXPORTS, "/planner/exports"])
async def test_only_planners_export_and_planners_or_admins_read_the_log(
    client: Client, register: Register, path: str
) -> None:
    citizen = await register()
    teacher = await staff(client, Role.TEACHER)
    planner = await staff(client, Role.PLANNER)
    admin = await staff(client, Role.ADMIN)
    assert (await client.get(path)).status_code == 401
    for forbidden in (citizen, teacher):
        answer = await client.get(path, headers=forbidden.auth)
        assert answer.status_code == 403
        assert answer.json()["type"].endswith("role-required")
    assert (await client.get(path, headers=planner.auth)).status_code == 200
    admin_may = path == "/planner/exports"
    assert (await client.get(path, headers=admin.auth)).status_code == (200 if admin_may else 403)


async def test_every_export_is_audited_and_listed_newest_first(client: Client, clean_db: AsyncEngine) -> None:
    await _crowd(clean_db, sibling_cells(9))
    planner = await staff(client, Role.PLANNER)
    params = {"metric": "exposure", "res": 9, **MONTH, "format": "csv"}
    assert (await client.get("/planner/heatmap", params=params, headers=planner.auth)).status_code == 200
    assert (await client.get("/planner/flows", params=MONTH, headers=planner.auth)).status_code == 200
    refused = await client.get("/planner/heatmap", params={"res": 3}, headers=planner.auth)
    assert refused.status_code == 400, "a refused request exports nothing and is not logged"
    admin = await staff(client, Role.ADMIN)
    log = await client.get("/planner/exports", params={"limit": 1}, headers=admin.auth)
    assert log.status_code == 200
    [flows] = log.json()["items"]
    assert (flows["kind"], flows["status"], flows["cellCount"]) == ("flows", "completed", 0)
    assert flows["actorId"] == planner.id and flows["actorRole"] == "planner"
    second = await client.get(
        "/planner/exports", params={"limit": 1, "cursor": log.json()["nextCursor"]}, headers=admin.auth
    )
    [heat] = second.json()["items"]
    assert second.json()["nextCursor"] is None
    assert (heat["kind"], heat["status"], heat["cellCount"]) == ("heatmap", "completed", 1)
    parameters = heat["parameters"]
    assert {k: parameters[k] for k in ("metric", "resolution", "bbox", "fromDay", "toDay", "format")} == {
        "metric": "exposure",
        "resolution": 9,
        "bbox": None,
        "fromDay": "2026-03-01",
        "toDay": "2026-03-31",
        "format": "csv",
    }
    assert parameters["releaseWindow"] == "2026-03" and parameters["epsilon"] > 0
    assert "k" not in parameters
    assert heat["startedAt"] <= heat["finishedAt"]
    bad = await client.get("/planner/exports", params={"cursor": "nonsense"}, headers=admin.auth)
    assert bad.status_code == 400


async def test_the_audit_survives_the_planners_erasure(client: Client) -> None:
    planner = await staff(client, Role.PLANNER)
    assert (await client.get("/planner/heatmap", headers=planner.auth)).status_code == 200
    await execute(client, "DELETE FROM app_user WHERE id = :id", id=planner.id)
    admin = await staff(client, Role.ADMIN)
    [entry] = (await client.get("/planner/exports", headers=admin.auth)).json()["items"]
    assert entry["actorId"] is None and entry["actorRole"] == "planner"


def _read(out: Path) -> tuple[Any, list[Path]]:
    return json.loads(out.read_text()), list(out.parent.glob("*.part"))


def _run_cli(*argv: str) -> int:
    return main(list(argv))


async def test_cli_writes_the_same_export_to_a_file_with_progress_and_an_audit(
    client: Client,
    clean_db: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    cells = sibling_cells(9)
    await _crowd(clean_db, cells)
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+asyncpg", ""))
    for name, value in RELEASE_ENV.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "heat.geojson"
    window = ("--from", MONTH["from"], "--to", MONTH["to"])
    code = await asyncio.to_thread(
        _run_cli, "export", "heatmap", "--metric", "exposure", *window, "-o", str(out)
    )
    assert code == 0
    err = capsys.readouterr().err
    assert f"{len(cells)}/{len(cells)} cells" in err and "100%" in err
    from_file, leftovers = await asyncio.to_thread(_read, out)
    planner = await staff(client, Role.PLANNER)
    over_http = (
        await client.get("/planner/heatmap", params={"metric": "exposure", **MONTH}, headers=planner.auth)
    ).json()
    del from_file["generatedAt"], over_http["generatedAt"]
    assert from_file == over_http, "one release, served to both"
    assert {f["properties"]["h3"] for f in from_file["features"]} == set(cells)
    assert not leftovers
    admin = await staff(client, Role.ADMIN)
    entries = (await client.get("/planner/exports", headers=admin.auth)).json()["items"]
    assert [e["actorRole"] for e in entries] == ["planner", "cli"]
    assert entries[1]["actorId"] is None and entries[1]["cellCount"] == len(cells)
    refused = await asyncio.to_thread(_run_cli, "export", "flows", "--res", "12", "-o", str(out))
    assert refused == 2 and "res" in capsys.readouterr().err


async def test_an_export_cut_short_is_audited_as_aborted(client: Client, clean_db: AsyncEngine) -> None:
    from api.settings import Settings
    from domain.planner import service as export_service
    from domain.planner.rules import ExportKind, build_query
    from domain.planner.service import Actor

    await _crowd(clean_db, sibling_cells(8))
    settings: Settings = client.app.state.settings
    now = session_clock()
    query = build_query(ExportKind.HEATMAP, today=now.date(), metric="exposure", resolution=10)
    opened = await export_service.open_export(
        client.app.state.sessionmaker,
        query,
        actor=Actor(None, "cli"),
        policy=settings.release_policy(),
        now=now,
    )
    first = await anext(opened.chunks)
    assert first.startswith(b'{"type":"FeatureCollection"')
    await opened.chunks.aclose()  # type: ignore[attr-defined]  # the client went away
    admin = await staff(client, Role.ADMIN)
    [entry] = (await client.get("/planner/exports", headers=admin.auth)).json()["items"]
    assert entry["status"] == "aborted" and entry["finishedAt"] is not None
