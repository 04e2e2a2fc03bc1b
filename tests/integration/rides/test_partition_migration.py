"""Migration 0016 turns the cell paths and aggregates into monthly partitions and keeps every row."""

from __future__ import annotations

import itertools
import secrets
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from alembic import command
from api.database import alembic_config, make_engine
from domain.core import partition_store
from domain.core.partitions import CELL_EXPOSURE, HISTORY, RIDE_CELL

# month edges on both sides, a leap-free February's last minute, and a lone month with gaps around it
STARTS = (
    datetime(2025, 12, 31, 23, 59, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 2, 28, 23, 59, tzinfo=UTC),
    datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 6, 15, 12, 0, tzinfo=UTC),
)
CELLS = (0x8A1FA4A2D4A7FFF, 0x8A1FA4A2D4B7FFF, 0x8A1FA4A2D4AFFFF)

_CELL_ROWS = "SELECT ride_id, seq, cell, segment, offset_s, speed_mps, filled FROM ride_cell ORDER BY 1, 2"
_EXPOSURE_ROWS = "SELECT cell, day, mode, user_id, rides FROM cell_exposure ORDER BY 1, 2, 3, 4"
_TRANSITION_ROWS = (
    "SELECT from_cell, to_cell, day, mode, user_id, traversals FROM cell_transition ORDER BY 1, 2, 3, 4, 5"
)


def _migrate(connection: Connection, direction: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


async def _to(engine: AsyncEngine, direction: str, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_migrate, direction, revision)


@pytest.fixture
async def at_0015(database_server_url: str) -> AsyncGenerator[AsyncEngine, None]:
    """A database of its own at the revision before partitioned history."""
    name = f"sr_mig_{secrets.token_hex(6)}"
    admin = make_engine(database_server_url, null_pool=True).execution_options(isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(
        make_url(database_server_url).set(database=name).render_as_string(False), null_pool=True
    )
    await _to(engine, "upgrade", "0015")
    yield engine
    await engine.dispose()
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def _populate(conn: AsyncConnection) -> None:
    for n in range(2):
        user_id = uuid.uuid4()
        await conn.execute(
            sa.text(
                "INSERT INTO app_user (id, handle, handle_key, password_hash, role, nickname, privacy_seed,"
                " created_at) VALUES (:id, :h, :h, 'x', 'citizen', :h, '\\x00', :t)"
            ),
            {"id": user_id, "h": f"rider{n}", "t": STARTS[0]},
        )
        for started in STARTS:
            ride_id = uuid.uuid4()
            await conn.execute(
                sa.text(
                    "INSERT INTO ride (id, user_id, mode, distance_m, duration_s, started_at, resolution,"
                    " cell_count, segment_count, trimmed_m, point_count, kept_point_count, incidents_filed,"
                    " created_at) VALUES (:id, :u, 'bike', 900, 300, :t, 10, 3, 1, 0, 60, 60, 0, :t)"
                ),
                {"id": ride_id, "u": user_id, "t": started},
            )
            for seq, cell in enumerate(CELLS):
                await conn.execute(
                    sa.text(
                        "INSERT INTO ride_cell (ride_id, seq, cell, segment, offset_s, speed_mps, filled)"
                        " VALUES (:r, :s, :c, 0, :o, 4.5, false)"
                    ),
                    {"r": ride_id, "s": seq, "c": cell, "o": 60 * seq},
                )
                await conn.execute(
                    sa.text(
                        "INSERT INTO cell_exposure (cell, day, mode, user_id, rides)"
                        " VALUES (:c, :d, 'bike', :u, 1)"
                    ),
                    {"c": cell, "d": started.date(), "u": user_id},
                )
            for a, b in itertools.pairwise(CELLS):
                await conn.execute(
                    sa.text(
                        "INSERT INTO cell_transition (from_cell, to_cell, day, mode, user_id, traversals)"
                        " VALUES (:a, :b, :d, 'bike', :u, 2)"
                    ),
                    {"a": a, "b": b, "d": started.date(), "u": user_id},
                )


async def _snapshot(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    async with engine.connect() as conn:
        return {
            query: [tuple(r) for r in await conn.execute(sa.text(query))]
            for query in (_CELL_ROWS, _EXPOSURE_ROWS, _TRANSITION_ROWS)
        }


def _month(value: date | datetime) -> str:
    return f"p{value.year:04d}_{value.month:02d}"


async def _kind(engine: AsyncEngine, table: str) -> str:
    async with engine.connect() as conn:
        query = sa.text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)")
        return str((await conn.execute(query, {"t": table})).scalar_one())


async def _check_partitioned(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        placed = await conn.execute(
            sa.text(
                "SELECT c.tableoid::regclass::text, c.started_at, r.started_at"
                " FROM ride_cell c JOIN ride r ON r.id = c.ride_id"
            )
        )
        for partition, copied, started in placed:
            assert copied == started
            assert partition == f"ride_cell_{_month(started)}"
        for table in ("cell_exposure", "cell_transition"):
            days = await conn.execute(sa.text(f"SELECT tableoid::regclass::text, day FROM {table}"))
            for partition, day in days:
                assert partition == f"{table}_{_month(day)}"
        for table in HISTORY:
            layout = await partition_store.layout(conn, table)
            assert layout.default
            # every month from the oldest row's to the newest's, the empty ones between too
            assert [_month(m) for m in layout.months] == [
                "p2025_12",
                "p2026_01",
                "p2026_02",
                "p2026_03",
                "p2026_04",
                "p2026_05",
                "p2026_06",
            ]
            empty = await conn.execute(sa.text(f"SELECT count(*) FROM {table.default}"))
            assert empty.scalar_one() == 0


async def test_upgrade_keeps_every_row_in_its_month_and_downgrade_gives_them_back(
    at_0015: AsyncEngine,
) -> None:
    async with at_0015.begin() as conn:
        await _populate(conn)
    before = await _snapshot(at_0015)
    assert len(before[_CELL_ROWS]) == 2 * len(STARTS) * len(CELLS)

    await _to(at_0015, "upgrade", "0016")
    assert {await _kind(at_0015, t.name) for t in HISTORY} == {"p"}
    assert await _snapshot(at_0015) == before
    await _check_partitioned(at_0015)

    await _to(at_0015, "downgrade", "0015")
    assert {await _kind(at_0015, t.name) for t in HISTORY} == {"r"}
    assert await _snapshot(at_0015) == before
    async with at_0015.connect() as conn:
        key = await conn.execute(
            sa.text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ride_cell_pkey'"
                " AND conrelid = 'ride_cell'::regclass"
            )
        )
        assert key.scalar_one() == "PRIMARY KEY (ride_id, seq)"

    await _to(at_0015, "upgrade", "0016")
    assert await _snapshot(at_0015) == before
    await _check_partitioned(at_0015)

    # ride deletion and account erasure still cascade into every partition
    async with at_0015.begin() as conn:
        await conn.execute(sa.text("DELETE FROM app_user WHERE handle = 'rider0'"))
    after = await _snapshot(at_0015)
    assert all(len(after[q]) == len(before[q]) // 2 for q in before)


async def test_a_month_without_partition_lands_in_the_default_until_maintenance_moves_it(
    at_0015: AsyncEngine,
) -> None:
    async with at_0015.begin() as conn:
        await _populate(conn)
    await _to(at_0015, "upgrade", "0016")
    user = "(SELECT id FROM app_user WHERE handle = 'rider1')"
    async with at_0015.begin() as conn:
        await conn.execute(
            sa.text(
                f"INSERT INTO cell_exposure (cell, day, mode, user_id, rides) VALUES (1, '2027-01-31', 'walk', {user}, 1)"  # noqa: E501
            )
        )
    where = "SELECT tableoid::regclass::text FROM cell_exposure WHERE day = '2027-01-31'"
    async with at_0015.connect() as conn:
        assert (await conn.execute(sa.text(where))).scalar_one() == "cell_exposure_default"

    made = await partition_store.maintain(at_0015, today=date(2026, 12, 1), ahead=1)
    assert made.moved == 1
    assert "cell_exposure_p2027_01" in made.created and "ride_cell_p2026_12" in made.created
    async with at_0015.connect() as conn:
        assert (await conn.execute(sa.text(where))).scalar_one() == "cell_exposure_p2027_01"
        assert (await partition_store.layout(conn, RIDE_CELL)).months[-2:] == (
            date(2026, 12, 1),
            date(2027, 1, 1),
        )
        assert (await partition_store.layout(conn, CELL_EXPOSURE)).default

    again = await partition_store.maintain(at_0015, today=date(2026, 12, 1), ahead=1)
    assert again.created == [] and again.moved == 0
