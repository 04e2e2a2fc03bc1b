"""Hot-path SQL run straight on the session's asyncpg connection, inside its transaction.

A ride upload runs about a dozen statements. Through the ORM session one
costs about 190 µs of CPU where asyncpg alone takes about 75 µs (the rest is
the execution context, the compiled cache's key and the result's
processing). The upload's statements are therefore written here as SQL with
``:name`` parameters, numbered once when the module is imported, and run on
the session's own connection and transaction, so they commit or roll back
with everything else the use case did.

Results are asyncpg records: ``row["column"]`` or ``row[0]``. JSON goes in as
text (the SQLAlchemy dialect installed the codecs when it connected).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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


async def driver(session: AsyncSession | AsyncConnection) -> Any:
    """The asyncpg connection under `session`, inside the session's transaction.

    SQLAlchemy's asyncpg adapter defers its BEGIN to its own first statement,
    so a statement sent here first would run, and commit, on its own. Unless
    the connection is in autocommit, the transaction is therefore begun now,
    through the adapter, which then commits or rolls it back as usual.
    """
    connection = await session.connection() if isinstance(session, AsyncSession) else session
    pooled = await connection.get_raw_connection()
    raw: Any = pooled.driver_connection
    options = connection.sync_connection.get_execution_options() if connection.sync_connection else {}
    autocommit = options.get("isolation_level") == "AUTOCOMMIT"
    if not autocommit and not raw.is_in_transaction():
        await _begin(pooled.dbapi_connection)
    return raw


async def _begin(adapted: Any) -> None:
    start = getattr(adapted, "_start_transaction", None)
    if start is None or getattr(adapted, "_transaction", "missing") is not None:
        raise RuntimeError("SQLAlchemy's asyncpg adapter changed: domain.pg cannot begin its transaction")
    await start()


async def fetch(session: AsyncSession | AsyncConnection, statement: Sql, **params: Any) -> list[Any]:
    rows = await (await driver(session)).fetch(statement.text, *statement.args(params))
    return cast(list[Any], rows)


async def fetchrow(session: AsyncSession | AsyncConnection, statement: Sql, **params: Any) -> Any:
    return await (await driver(session)).fetchrow(statement.text, *statement.args(params))


async def execute(session: AsyncSession | AsyncConnection, statement: Sql, **params: Any) -> None:
    await (await driver(session)).execute(statement.text, *statement.args(params))
