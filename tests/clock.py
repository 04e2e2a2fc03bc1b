"""The tests' clock: one fixed moment, never the wall clock or the machine's time zone.

``TEST_NOW`` is a Wednesday morning in the middle of a month, far from a daylight
saving change, at an hour that is no badge's window (Brussels 10:17), so no test
passes or fails by when it runs. Code that takes ``now`` gets ``TEST_NOW``; the
app under test gets :func:`session_clock`, which starts at ``TEST_NOW`` and runs on
with the monotonic clock (so tokens age and rows keep their order). Releases are
made for whole past months: take the month from this clock
(``privacy.release.rules.last_closed_month(session_clock().date())``), never from the wall clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Final

TEST_NOW: Final = datetime(2026, 6, 17, 8, 17, tzinfo=UTC)

_STARTED = time.monotonic()


def session_clock() -> datetime:
    """``TEST_NOW`` plus the time this test session has run."""
    return TEST_NOW + timedelta(seconds=time.monotonic() - _STARTED)
