"""Retention with a fixed clock: per-ride detail and expired records go, the rest stays."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from api.cli.main import main
from domain.core import partition_store
from domain.core.partitions import RIDE_CELL
from privacy.retention import service as retention
from tests.clock import TEST_NOW, session_clock
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


async def _ride_started(conn: AsyncConnection, user_id: uuid.UUID, started: datetime, cells: int) -> None:
    ride_id = uuid.uuid4()
    await conn.execute(
        sa.text(
            "INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution, cell_count,"
            " segment_count, trimmed_m, point_count, kept_point_count, incidents_filed, created_at)"
            " VALUES (:id, :u, 'bike', 900, 300, :t, 10, :n, 1, 0, 60, 60, 0, :t)"
        ),
        {"id": ride_id, "u": user_id, "t": started, "n": cells},
    )
    await conn.execute(
        sa.text(
            "INSERT INTO ride_cell (ride_id, seq, cell, segment, offset_s, speed_mps, filled, started_at)"
            " SELECT :r, s, 622236750694711295 + s, 0, 10 * s, 4.5, false, :t"
            " FROM generate_series(0, :n - 1) s"
        ),
        {"r": ride_id, "t": started, "n": cells},
    )


async def test_a_wholly_expired_month_is_dropped_and_the_boundary_month_loses_only_its_expired_rides(
    clean_db: AsyncEngine, register: Any
) -> None:
    account = await register()
    cutoff = TEST_NOW - timedelta(days=365)  # 2025-06-17 08:17 UTC
    expired = [datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 5, 31, 23, 59, tzinfo=UTC)]
    boundary_expired = [datetime(2025, 6, 1, tzinfo=UTC), cutoff - timedelta(minutes=1)]
    kept = [cutoff, cutoff + timedelta(minutes=1), datetime(2025, 6, 30, 23, 59, tzinfo=UTC)]
    later = [datetime(2025, 7, 1, tzinfo=UTC), datetime(2026, 6, 16, tzinfo=UTC)]
    async with clean_db.begin() as conn:
        for started in (*expired, *boundary_expired, *kept, *later):
            await _ride_started(conn, uuid.UUID(account.id), started, 4)

    report = await retention.apply(clean_db, now=TEST_NOW, retention_days=365)

    assert report.dropped == ["ride_cell_p2025_05"]
    assert report.removed["ride_cell"] == 4 * len(boundary_expired)
    remaining = await rows(clean_db, "SELECT started_at, count(*) FROM ride_cell GROUP BY 1 ORDER BY 1")
    assert remaining == [(t, 4) for t in (*kept, *later)]
    assert await count(clean_db, "ride") == 9
    async with clean_db.connect() as conn:
        months = (await partition_store.layout(conn, RIDE_CELL)).months
        assert date(2025, 5, 1) not in months and date(2025, 6, 1) in months
        assert await count(clean_db, "ride_cell_default") == 0

    # the next day: nothing wholly expired any more, one more day of the boundary month goes row by row
    again = await retention.apply(clean_db, now=TEST_NOW + timedelta(days=1), retention_days=365)
    assert again.dropped == []
    assert again.removed["ride_cell"] == 4 * 2
    remaining = await rows(clean_db, "SELECT started_at FROM ride_cell GROUP BY 1 ORDER BY 1")
    assert remaining == [(t,) for t in (kept[2], *later)]
