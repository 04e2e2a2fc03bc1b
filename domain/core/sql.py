"""Hot-path SQL run straight on the session's asyncpg connection, inside its transaction.

A ride upload runs about a dozen statements. Through the ORM session one
costs about 190 µs of CPU where asyncpg alone takes about 75 µs (the rest is
the execution context, the compiled cache's key and the result's
processing). The upload's statements are therefore written here as SQL with
``:name`` parameters, numbered once when the module is imported, and run on
the session's own connection and transaction, so they commit or roll back
with everything else the use case did.

This is the one way hot SQL runs (docs/architecture.md): everything else is
SQLAlchemy Core or ORM, with ``sa.text`` where Core cannot say it. Only public
APIs are used: SQLAlchemy's asyncpg adapter begins its transaction with its
own first statement, so the transaction's first statement here goes through
``AsyncConnection.exec_driver_sql`` (the same two round trips, BEGIN and the
statement); once ``asyncpg.Connection.is_in_transaction()``, statements go
straight to asyncpg.

Results read like asyncpg records: ``row["column"]``, ``row[0]``, unpacking.
JSON goes in as text (the SQLAlchemy dialect installed the codecs when it
connected). Driver errors come out as SQLAlchemy's ``DBAPIError``, as from the
ORM.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Db = AsyncSession | AsyncConnection
"""A session (its transaction is begun if need be) or a connection (e.g. an autocommit one)."""

_NAMED = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")
"""A ``:name`` parameter, not a ``::type`` cast (the pattern SQLAlchemy's ``text()`` uses)."""


@dataclass(frozen=True, slots=True)
class Sql:
    """A statement with its ``:name`` parameters numbered ``$1``, ``$2``, … in first-use order."""

    text: str
    names: tuple[str, ...]

    def args(self, params: dict[str, Any]) -> list[Any]:
        missing = [n for n in self.names if n not in params]
        if missing:
            raise KeyError(f"missing SQL parameters: {', '.join(missing)}")
        return [params[n] for n in self.names]


def sql(text: str) -> Sql:
    """Number `text`'s parameters. As with SQLAlchemy's ``text()``, cast one as
    ``CAST(:x AS type)``: ``:x::type`` is not read as a parameter."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return Sql(_NAMED.sub(number, text), tuple(names))


async def _connections(session: Db) -> tuple[AsyncConnection, Any, bool]:
    """The SQLAlchemy connection, its asyncpg connection, and whether a raw statement may run now:
    in autocommit, or once the session's transaction has begun."""
    connection = await session.connection() if isinstance(session, AsyncSession) else session
    raw: Any = (await connection.get_raw_connection()).driver_connection
    options = connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    return connection, raw, options.get("isolation_level") == "AUTOCOMMIT" or raw.is_in_transaction()


class Record:
    """A row read through SQLAlchemy, read like an asyncpg record: ``row["column"]`` or ``row[0]``."""

    __slots__ = ("_row",)

    def __init__(self, row: sa.Row[Any]) -> None:
        self._row = row

    def __getitem__(self, key: str | int) -> Any:
        return self._row._mapping[key] if isinstance(key, str) else self._row[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)

CONNECTION_LOST_SQLSTATES = ("08", "57P")
"""SQLSTATE classes of a lost or refused connection: 08 connection exception, 57P admin/crash shutdown."""
TRANSIENT_SQLSTATES = ("40001", "40P01")
"""The server gave up on a statement that would succeed if run again: a serialization failure (also
what a streaming replica says when it cancels a read that conflicts with the WAL it replays) and a
deadlock. Nothing of the transaction was committed."""


async def _failed(connection: AsyncConnection, raw: Any, text: str, exc: Exception) -> DBAPIError:
    """`exc` as SQLAlchemy's `DBAPIError`, as the ORM would raise it (so the API's handlers judge
    it alike: a lost server is a 503, not a 500). A connection that broke is invalidated, as
    SQLAlchemy does, so that the pool never hands it out again."""
    lost = str(getattr(exc, "sqlstate", "") or "").startswith(CONNECTION_LOST_SQLSTATES)
    server_said = isinstance(exc, asyncpg.PostgresError) and not lost
    broken = raw.is_closed() or not server_said
    if broken:
        await connection.invalidate(exc)
    return DBAPIError(text, None, exc, connection_invalidated=broken)


async def _run(session: Db, method: str, statement: Sql, params: dict[str, Any]) -> Any:
    connection, raw, ready = await _connections(session)
    args = statement.args(params)
    if not ready:
        # The transaction's first statement: SQLAlchemy's asyncpg adapter defers its BEGIN to its own
        # first statement, so this one goes through SQLAlchemy (same round trips: BEGIN, then it).
        result = await connection.exec_driver_sql(statement.text, tuple(args))
        if method == "execute":
            result.close()
            return None
        rows = [Record(row) for row in result.all()]
        return rows if method == "fetch" else (rows[0] if rows else None)
    try:
        return await getattr(raw, method)(statement.text, *args)
    except _DRIVER_ERRORS as exc:
        raise await _failed(connection, raw, statement.text, exc) from exc


async def fetch(session: Db, statement: Sql, **params: Any) -> list[Any]:
    return cast(list[Any], await _run(session, "fetch", statement, params))


async def fetchrow(session: Db, statement: Sql, **params: Any) -> Any:
    return await _run(session, "fetchrow", statement, params)


async def execute(session: Db, statement: Sql, **params: Any) -> None:
    await _run(session, "execute", statement, params)
