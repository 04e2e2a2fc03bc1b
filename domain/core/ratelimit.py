"""Sliding-window rate limits kept in PostgreSQL, so every worker sees the same counts.

Hits are counted per fixed window, and a hit is judged against the current
window's count plus the previous window's count weighted by how much of it
still lies inside the sliding window. A client therefore cannot spend a whole
allowance just before a window boundary and another just after it, which a
plain fixed window allows (twice the limit within seconds).

Keys are HMAC-hashed before they are stored: a client address or a handle is
personal data and the limiter only needs to tell keys apart.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from domain.core import sql as pg
from domain.core.columns import utcnow
from domain.core.errors import TooManyRequests


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_bucket"

    key_hash: str = Field(max_length=64, primary_key=True)
    window_start: datetime = Field(primary_key=True, sa_type=sa.DateTime(timezone=True))
    hits: int = 0


_HIT = pg.sql(
    """
    WITH counted AS (
      INSERT INTO rate_limit_bucket (key_hash, window_start, hits) VALUES (:key_hash, :window_start, 1)
      ON CONFLICT (key_hash, window_start) DO UPDATE SET hits = rate_limit_bucket.hits + 1
      RETURNING hits
    )
    SELECT counted.hits, (SELECT hits FROM rate_limit_bucket
                          WHERE key_hash = :key_hash AND window_start = :previous_start)
    FROM counted
    """
)
"""Count a hit in the current window; the window's count and the previous window's."""


class RateLimiter:
    def __init__(self, engine: AsyncEngine, secret: str) -> None:
        # one statement per hit: autocommit spares the BEGIN and COMMIT round trips
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._secret = secret.encode()

    def _hash(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).hexdigest()

    async def hit(
        self, key: str, *, limit: int | None, window: timedelta, now: datetime | None = None
    ) -> None:
        """Count one hit; raise 429 when `limit` is exceeded within the sliding window.

        Runs in its own transaction so that a failing request (a wrong password)
        still counts. With `limit` None the hit is counted and never refused
        (a registration with a class code still uses up its address's allowance).
        """
        now = now or utcnow()
        span = window.total_seconds()
        start_ts = math.floor(now.timestamp() / span) * span
        key_hash = self._hash(key)
        async with self._engine.connect() as conn:
            current, earlier = await pg.fetchrow(
                conn,
                _HIT,
                key_hash=key_hash,
                window_start=datetime.fromtimestamp(start_ts, tz=now.tzinfo),
                previous_start=datetime.fromtimestamp(start_ts - span, tz=now.tzinfo),
            )
        if limit is None:
            return
        retry_after = seconds_until_allowed(
            current=current, previous=earlier or 0, limit=limit, elapsed=now.timestamp() - start_ts, span=span
        )
        if retry_after > 0:
            raise TooManyRequests("Too many requests; slow down and retry later.", retry_after_s=retry_after)


def seconds_until_allowed(*, current: int, previous: int, limit: int, elapsed: float, span: float) -> int:
    """0 when this hit is within the limit, else whole seconds until the next one would be.

    The sliding count is `current + previous * (1 - elapsed / span)`: the
    previous window fades out linearly while the current one runs. Every hit
    counts, refused ones too, so the next one must find room for itself.
    """
    if current + previous * (1 - elapsed / span) <= limit:
        return 0
    room = limit - current - 1  # how much of the previous window may remain when the next hit comes
    if room >= 0:
        # refused because of the previous window: wait until its share has faded to `room`
        allowed_at = (1 - room / previous) * span
    else:
        # this window is spent on its own: wait until, as the previous window, it has faded enough
        allowed_at = span + max(0.0, 1 - (limit - 1) / current) * span
    return max(1, math.ceil(allowed_at - elapsed))
