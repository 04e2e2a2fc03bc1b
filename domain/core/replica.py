"""A session on a streaming replica knows the primary's sessions, for the writes a read may lead to.

Reads that tolerate lag (exports, public reads) may run on a read-only
replica (``api.replica`` chooses, per request). A few of them end in a write
on a miss: a planner export asks for a differentially private release, and a
release that does not exist yet must be made, charged to the privacy ledger
and committed, which only the primary can do. Like the message bus, the way
to the primary travels with the session (``session.info``), so use cases keep
their signatures: a read on the replica that finds what it needs never
touches the primary, and a miss goes there.
"""

from __future__ import annotations

from typing import Any, Final, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

PRIMARY_KEY: Final = "saferoutes.primary"


def primary_of(session: AsyncSession) -> async_sessionmaker[AsyncSession] | None:
    """The primary's sessions when ``session`` reads a replica; None when it is on the primary."""
    found = session.info.get(PRIMARY_KEY)
    return cast("async_sessionmaker[AsyncSession] | None", found)


def on_replica(info: dict[str, Any], primary: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """``info`` for the sessions of a replica whose writes go to ``primary``."""
    return {**info, PRIMARY_KEY: primary}
