"""`domain.core.sql` statements run inside the session's transaction, even as its first statement."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from domain.core import sql as pg

_INSERT = pg.sql("INSERT INTO rate_limit_bucket (key_hash, window_start, hits) VALUES (:key, now(), 1)")


async def _driver(session: AsyncSession | AsyncConnection) -> Any:
    connection = await session.connection() if isinstance(session, AsyncSession) else session
    return (await connection.get_raw_connection()).driver_connection


async def _buckets(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text("SELECT count(*) FROM rate_limit_bucket"))).scalar_one())


async def test_a_first_statement_is_rolled_back_with_the_session(clean_db: AsyncEngine) -> None:
    async with AsyncSession(clean_db) as session:
        await pg.execute(session, _INSERT, key="first")
        assert (await _driver(session)).is_in_transaction()
        await pg.execute(session, _INSERT, key="second")
        await session.execute(sa.text("SELECT 1"))  # the ORM's statements share the transaction
        await session.rollback()
    assert await _buckets(clean_db) == 0


async def test_statements_commit_with_the_session(clean_db: AsyncEngine) -> None:
    async with AsyncSession(clean_db) as session:
        await pg.execute(session, _INSERT, key="first")
        await session.commit()
    assert await _buckets(clean_db) == 1


async def test_on_an_autocommit_connection_each_statement_commits(clean_db: AsyncEngine) -> None:
    autocommit = clean_db.execution_options(isolation_level="AUTOCOMMIT")
    async with autocommit.connect() as conn:
        await pg.execute(conn, _INSERT, key="first")
        assert not (await _driver(conn)).is_in_transaction()
    assert await _buckets(clean_db) == 1


async def test_a_driver_error_comes_out_as_sqlalchemys(clean_db: AsyncEngine) -> None:
    async with AsyncSession(clean_db) as session:
        with pytest.raises(DBAPIError) as failed:
            await pg.execute(session, pg.sql("SELECT 1 / CAST(:zero AS int)"), zero=0)
    assert getattr(failed.value.orig, "sqlstate", None) == "22012"  # division_by_zero, from asyncpg


async def test_a_lost_connection_is_invalidated_and_the_session_can_roll_back(clean_db: AsyncEngine) -> None:
    async with AsyncSession(clean_db) as session:
        backend = await pg.fetchrow(session, pg.sql("SELECT pg_backend_pid() AS pid"))
        async with clean_db.connect() as other:
            await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend["pid"]})
        with pytest.raises(DBAPIError) as failed:
            await pg.execute(session, _INSERT, key="after the server hung up")
        assert failed.value.connection_invalidated
        await session.rollback()
    assert await _buckets(clean_db) == 0


async def test_a_first_statement_that_reads_answers_like_the_later_ones(clean_db: AsyncEngine) -> None:
    async with AsyncSession(clean_db) as session:
        first = await pg.fetchrow(session, pg.sql("SELECT CAST(:n AS int) AS n"), n=7)
        later = await pg.fetchrow(session, pg.sql("SELECT CAST(:n AS int) AS n"), n=7)
        assert (first["n"], first[0]) == (later["n"], later[0]) == (7, 7)
        assert await pg.fetch(session, pg.sql("SELECT 1 WHERE false")) == []
