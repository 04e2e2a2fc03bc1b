"""The rate limiter's counts in PostgreSQL, at chosen instants around a window boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core.errors import TooManyRequests
from domain.core.ratelimit import RateLimiter

WINDOW = timedelta(minutes=15)
BOUNDARY = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)


async def test_an_allowance_cannot_be_spent_twice_across_a_window_boundary(clean_db: AsyncEngine) -> None:
    limiter = RateLimiter(clean_db, "secret")
    for n in range(10):
        just_before = BOUNDARY - timedelta(seconds=1 - n / 20)
        await limiter.hit("join:someone", limit=10, window=WINDOW, now=just_before)
    with pytest.raises(TooManyRequests) as refused:
        await limiter.hit("join:someone", limit=10, window=WINDOW, now=BOUNDARY + timedelta(seconds=1))
    assert refused.value.retry_after_s > 0
    # other keys are counted apart
    await limiter.hit("join:someone-else", limit=10, window=WINDOW, now=BOUNDARY + timedelta(seconds=1))


async def test_the_previous_window_fades_out(clean_db: AsyncEngine) -> None:
    limiter = RateLimiter(clean_db, "secret")
    for _ in range(10):
        await limiter.hit("login:someone", limit=10, window=WINDOW, now=BOUNDARY - timedelta(minutes=1))
    # 10 minutes into the next window a third of the previous one still counts:
    # 3.3 + 6 hits fit, a 7th does not
    later = BOUNDARY + timedelta(minutes=10)
    for _ in range(6):
        await limiter.hit("login:someone", limit=10, window=WINDOW, now=later)
    with pytest.raises(TooManyRequests):
        await limiter.hit("login:someone", limit=10, window=WINDOW, now=later)
