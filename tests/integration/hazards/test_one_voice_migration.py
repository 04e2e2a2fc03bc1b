"""Migration 0014 merges each person's reports of a hazard into their first one and recounts by people."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from api.database import alembic_config, make_engine

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


@pytest.fixture
async def at_0012(database_server_url: str) -> AsyncGenerator[AsyncEngine, None]:
    """A database of its own, migrated up to the revision before one person, one voice."""
    name = f"sr_mig_{secrets.token_hex(6)}"
    admin = make_engine(database_server_url, null_pool=True).execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(
        make_url(database_server_url).set(database=name).render_as_string(False), null_pool=True
    )
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, "0012")
    yield engine
    await engine.dispose()
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def _user(conn: sa.ext.asyncio.AsyncConnection, handle: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    await conn.execute(
        sa.text(
            "INSERT INTO app_user (id, handle, handle_key, password_hash, role, nickname, privacy_seed,"
            " created_at) VALUES (:id, :h, :h, 'x', 'citizen', :h, '\\x00', :t)"
        ),
        {"id": user_id, "h": handle, "t": T0},
    )
    return user_id


async def _report(
    conn: sa.ext.asyncio.AsyncConnection,
    hazard: uuid.UUID,
    user: uuid.UUID,
    severity: int,
    created: int,
    seen: int,
) -> uuid.UUID:
    report_id = uuid.uuid4()
    await conn.execute(
        sa.text(
            "INSERT INTO hazard_report (id, hazard_id, user_id, category, severity, observed_at, created_at)"
            " VALUES (:id, :hz, :u, 'road_surface', :s, :seen, :created)"
        ),
        {
            "id": report_id,
            "hz": hazard,
            "u": user,
            "s": severity,
            "seen": T0 + timedelta(hours=seen),
            "created": T0 + timedelta(hours=created),
        },
    )
    return report_id


async def test_each_persons_reports_become_their_first_report_with_their_latest_observation(
    at_0012: AsyncEngine,
) -> None:
    hazard = uuid.uuid4()
    async with at_0012.begin() as conn:
        anna, ben, cleo = [await _user(conn, name) for name in ("anna", "ben", "cleo")]
        await conn.execute(
            sa.text(
                "INSERT INTO hazard (id, category, cell, lat, lon, status, severity, report_count,"
                " confirmation_count, dispute_count, created_at, updated_at)"
                " VALUES (:id, 'road_surface', '8a1fa4c0d6a7fff', 51.0, 4.4, 'open', 1, 4, 2, 0, :t, :t)"
            ),
            {"id": hazard, "t": T0},
        )
        first = await _report(conn, hazard, anna, severity=1, created=0, seen=0)
        await _report(conn, hazard, anna, severity=3, created=1, seen=1)
        await _report(conn, hazard, anna, severity=2, created=2, seen=-24)  # synced late, seen earlier
        await _report(conn, hazard, ben, severity=2, created=3, seen=3)
        for user, hours in ((anna, 4), (cleo, 5)):
            await conn.execute(
                sa.text(
                    "INSERT INTO hazard_confirmation (id, hazard_id, user_id, still_there, created_at)"
                    " VALUES (:id, :hz, :u, true, :t)"
                ),
                {"id": uuid.uuid4(), "hz": hazard, "u": user, "t": T0 + timedelta(hours=hours)},
            )
    async with at_0012.begin() as conn:
        await conn.run_sync(_upgrade, "0014")
    async with at_0012.begin() as conn:
        reports = (
            await conn.execute(
                sa.text("SELECT id, user_id, severity, observed_at FROM hazard_report ORDER BY created_at")
            )
        ).all()
        assert [(r.id, r.user_id, r.severity, r.observed_at) for r in reports] == [
            (first, anna, 3, T0 + timedelta(hours=1)),
            (reports[1].id, ben, 2, T0 + timedelta(hours=3)),
        ]
        counts = (
            await conn.execute(
                sa.text(
                    "SELECT report_count, confirmation_count, severity, last_confirmed_at"
                    " FROM hazard WHERE id = :id"
                ),
                {"id": hazard},
            )
        ).one()
        assert tuple(counts) == (2, 1, 3, T0 + timedelta(hours=5)), "anna's own confirmation no longer counts"
    with pytest.raises(IntegrityError):
        async with at_0012.begin() as conn:
            await _report(conn, hazard, ben, severity=1, created=6, seen=6)
