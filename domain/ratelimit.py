"""Fixed-window rate limits kept in PostgreSQL, so every worker sees the same counts.

Keys are HMAC-hashed before they are stored: a client address or a handle is
personal data and the limiter only needs to tell keys apart.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from domain.base import utcnow
from domain.errors import TooManyRequests


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_bucket"

    key_hash: str = Field(max_length=64, primary_key=True)
    window_start: datetime = Field(primary_key=True, sa_type=sa.DateTime(timezone=True))
    hits: int = 0


class RateLimiter:
    def __init__(self, engine: AsyncEngine, secret: str) -> None:
        # one statement per hit: autocommit spares the BEGIN and COMMIT round trips
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._secret = secret.encode()

    def _hash(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    async def hit(self, key: str, *, limit: int, window: timedelta, now: datetime | None = None) -> None:
        """Count one hit; raise 429 when `limit` is exceeded within the window.

        Runs in its own transaction so that a failing request (a wrong password)
        still counts.
        """
        now = now or utcnow()
        span = window.total_seconds()
        start_ts = math.floor(now.timestamp() / span) * span
        window_start = datetime.fromtimestamp(start_ts, tz=now.tzinfo)
        stmt = (
            insert(RateLimitBucket)
            .values(key_hash=self._hash(key), window_start=window_start, hits=1)
            .on_conflict_do_update(
                index_elements=["key_hash", "window_start"],
                set_={"hits": RateLimitBucket.__table__.c.hits + 1},  # type: ignore[attr-defined]
            )
            .returning(RateLimitBucket.__table__.c.hits)  # type: ignore[attr-defined]
        )
        async with self._engine.connect() as conn:
            hits = (await conn.execute(stmt)).scalar_one()
        if hits > limit:
            retry_after = max(1, math.ceil(start_ts + span - now.timestamp()))
            raise TooManyRequests("Too many requests; slow down and retry later.", retry_after_s=retry_after)

    async def purge(self, *, older_than: datetime) -> int:
        async with self._engine.connect() as conn:
            result = await conn.execute(
                sa.delete(RateLimitBucket).where(RateLimitBucket.window_start < older_than)  # type: ignore[arg-type]
            )
        return int(result.rowcount)
