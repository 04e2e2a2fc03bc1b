"""The tests' clock: one fixed moment, never the wall clock or the machine's time zone.

``TEST_NOW`` is a Wednesday morning in the middle of a month, far from a daylight
saving change, at an hour that is no badge's window (Brussels 10:17), so no test
passes or fails by when it runs. Code that takes ``now`` gets ``TEST_NOW``; the
app under test gets :func:`test_clock`, which starts at ``TEST_NOW`` and runs on
with the monotonic clock (so tokens age and rows keep their order). Releases are
made for whole past months: take them from :data:`LAST_MONTH`, never from today.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Final

from gamification.streaks import CITY_TZ

TEST_NOW: Final = datetime(2026, 6, 17, 8, 17, tzinfo=UTC)
TEST_TODAY: Final = TEST_NOW.date()
LOCAL_TODAY: Final = TEST_NOW.astimezone(CITY_TZ).date()
LAST_MONTH: Final = (TEST_NOW.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
"""The last whole month before ``TEST_NOW``: the one a release made now covers."""

_STARTED = time.monotonic()


def test_clock() -> datetime:
    """``TEST_NOW`` plus the time this test session has run."""
    return TEST_NOW + timedelta(seconds=time.monotonic() - _STARTED)


def month_start(month: str) -> date:
    year, number = month.split("-")
    return date(int(year), int(number), 1)
