"""Transaction-level advisory locks: one key derivation and one way to take them, for every capability.

A lock is held until the transaction ends (commit or rollback), so a use
case that locks before it reads makes a rule exact under concurrency (a
daily cap, a one-per-user rule) whichever worker or machine serves it.
Several keys are always taken in ascending order, so two use cases locking
overlapping sets cannot deadlock each other.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from domain.core import sql

_LOCK = sql.sql("SELECT pg_advisory_xact_lock(:key)")


def lock_key(*parts: str) -> int:
    """A signed 64-bit key for the named thing, e.g. ``lock_key("hazard-reporter", str(user_id))``."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def rides_key(user_id: uuid.UUID) -> int:
    """The lock that serialises one user's ride writes and privacy-zone changes."""
    digest = hashlib.sha256(b"saferoutes/rides\x00" + user_id.bytes).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def hold(session: AsyncSession, keys: Iterable[int]) -> None:
    """Take every lock in ``keys`` (each once, ascending) until the transaction ends."""
    for key in sorted(set(keys)):
        await sql.execute(session, _LOCK, key=key)


async def lock_user_rides(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialise one user's ride writes (uploads, deletes) and zone changes until the transaction ends."""
    await hold(session, [rides_key(user_id)])
