"""Retention with a fixed clock: per-ride detail and expired records go, the rest stays."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cli.main import main
from privacy.retention import service as retention
from tests.clock import session_clock
from tests.integration.ride_helpers import count, ride_json, rows, simulated, upload

Client = AsyncTestClient[Litestar]


async def _ride(client: Client, register: Any) -> Any:
    account = await register(consents=("ride_tracking", "research_sharing"))
    created = await upload(client, account.auth, ride_json(simulated(5).points))
    assert created.status_code == 201, created.text
    return account


async def test_rides_inside_the_period_keep_their_cells(
    client: Client, register: Any, clean_db: AsyncEngine
) -> None:
    await _ride(client, register)
    cells = await count(clean_db, "ride_cell")
    report = await retention.apply(clean_db, now=session_clock(), retention_days=30)
    assert report.removed["ride_cell"] == 0
    assert await count(clean_db, "ride_cell") == cells


async def test_old_rides_lose_their_cell_paths_but_keep_summary_and_aggregates(
    client: Client, register: Any, clean_db: AsyncEngine
) -> None:
    account = await _ride(client, register)
    exposure = await rows(clean_db, "SELECT cell, day, mode, rides FROM cell_exposure ORDER BY 1, 2, 3")
    cells = await count(clean_db, "ride_cell")
    later = session_clock() + timedelta(days=31)
    report = await retention.apply(clean_db, now=later, retention_days=30, batch=100)
    assert report.removed["ride_cell"] == cells
    assert await count(clean_db, "ride_cell") == 0
    assert await count(clean_db, "ride") == 1
    assert (
        await rows(clean_db, "SELECT cell, day, mode, rides FROM cell_exposure ORDER BY 1, 2, 3") == exposure
    )
    listed = await client.get("/rides", headers=account.auth)
    assert len(listed.json()["items"]) == 1


async def test_expired_technical_records_are_removed(
    client: Client, register: Any, clean_db: AsyncEngine
) -> None:
    await _ride(client, register)
    assert await count(clean_db, "idempotency_record") == 1
    assert await count(clean_db, "refresh_token") == 1
    assert await count(clean_db, "rate_limit_bucket") > 0
    far = session_clock() + timedelta(days=400)
    report = await retention.apply(clean_db, now=far, retention_days=365)
    assert report.removed["idempotency_record"] == 1
    assert report.removed["refresh_token"] == 1
    for table in ("idempotency_record", "refresh_token", "rate_limit_bucket"):
        assert await count(clean_db, table) == 0, table


async def test_a_guardian_code_that_was_used_is_kept(
    clean_db: AsyncEngine, client: Client, register: Any
) -> None:
    child = await register(birthYear=2017)
    issued = await client.post("/me/guardian-code", headers=child.auth)
    assert issued.status_code == 201, issued.text
    async with clean_db.begin() as conn:
        await conn.execute(sa.text("UPDATE guardian_code SET used_at = :now"), {"now": session_clock()})
    await retention.apply(clean_db, now=session_clock() + timedelta(days=60), retention_days=30)
    assert await count(clean_db, "guardian_code") == 1


def test_the_cli_applies_retention(database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url.replace("+asyncpg", ""))
    assert main(["retention", "--days", "30"]) == 0
    assert "Retention applied" in capsys.readouterr().out
