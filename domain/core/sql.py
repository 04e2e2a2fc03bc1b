"""Hot-path SQL run straight on the session's asyncpg connection, inside its transaction.

A ride upload runs about a dozen statements. Through the ORM session one
costs about 190 µs of CPU where asyncpg alone takes about 75 µs (the rest is
the execution context, the compiled cache's key and the result's
processing). The upload's statements are therefore written here as SQL with
``:name`` parameters, numbered once when the module is imported, and run on
the session's own connection and transaction, so they commit or roll back
with everything else the use case did.

Results are asyncpg records: ``row["column"]`` or ``row[0]``. JSON goes in as
text (the SQLAlchemy dialect installed the codecs when it connected). Driver
errors come out as SQLAlchemy's ``DBAPIError``, as from the ORM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
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


async def driver(session: Db) -> Any:
    """The asyncpg connection under `session`, inside the session's transaction.

    SQLAlchemy's asyncpg adapter defers its BEGIN to its own first statement,
    so a statement sent here first would run, and commit, on its own. Unless
    the connection is in autocommit, the transaction is therefore begun now,
    through the adapter, which then commits or rolls it back as usual.
    """
    return (await _connections(session))[1]


async def _connections(session: Db) -> tuple[AsyncConnection, Any]:
    connection = await session.connection() if isinstance(session, AsyncSession) else session
    pooled = await connection.get_raw_connection()
    raw: Any = pooled.driver_connection
    options = connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    autocommit = options.get("isolation_level") == "AUTOCOMMIT"
    if not autocommit and not raw.is_in_transaction():
        start = getattr(pooled.dbapi_connection, "_start_transaction", None)
        if start is None or getattr(pooled.dbapi_connection, "_transaction", "missing") is not None:
            raise RuntimeError("SQLAlchemy's asyncpg adapter changed: domain.pg cannot begin its transaction")
        try:
            await start()
        except Exception as exc:  # the adapter's DB-API error, before SQLAlchemy could wrap it
            raise await _failed(connection, raw, "BEGIN", exc) from exc
    return connection, raw


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)

CONNECTION_LOST_SQLSTATES = ("08", "57P")
"""SQLSTATE classes of a lost or refused connection: 08 connection exception, 57P admin/crash shutdown."""


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
    connection, raw = await _connections(session)
    try:
        return await getattr(raw, method)(statement.text, *statement.args(params))
    except _DRIVER_ERRORS as exc:
        raise await _failed(connection, raw, statement.text, exc) from exc


async def fetch(session: Db, statement: Sql, **params: Any) -> list[Any]:
    return cast(list[Any], await _run(session, "fetch", statement, params))


async def fetchrow(session: Db, statement: Sql, **params: Any) -> Any:
    return await _run(session, "fetchrow", statement, params)


async def execute(session: Db, statement: Sql, **params: Any) -> None:
    await _run(session, "execute", statement, params)
