"""Active days and streaks, counted on the city's calendar, not on UTC.

A child riding to school at 07:45 and back at 16:00 has one active day; one
riding home at 00:30 local time after a late event is active on the new local
day, even though it is still the previous day in UTC. Days are therefore
computed from aware datetimes converted to Europe/Brussels, and streaks step
through calendar dates (never 24-hour offsets), so the 23- and 25-hour days of
the daylight-saving changes neither break nor stretch a streak.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

CITY_TZ = ZoneInfo("Europe/Brussels")
_ONE_DAY = timedelta(days=1)


def local_date(moment: datetime, tz: ZoneInfo = CITY_TZ) -> date:
    """The city's calendar date of an instant; a naive datetime is refused, since its zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an aware datetime is required to find its local date")
    return moment.astimezone(tz).date()


def active_days(moments: Iterable[datetime], tz: ZoneInfo = CITY_TZ) -> frozenset[date]:
    """The distinct local dates of the given instants (start times of qualifying trips)."""
    return frozenset(local_date(m, tz) for m in moments)


@dataclass(frozen=True, slots=True)
class Streaks:
    current: int
    longest: int


def current_streak(days: Iterable[date], today: date) -> int:
    """Consecutive active days ending today, or ending yesterday while today is still young.

    The day is not over until midnight, so a streak that includes yesterday is
    still alive in the morning before the first ride of today.
    """
    active = set(days)
    day = today if today in active else today - _ONE_DAY
    count = 0
    while day in active:
        count += 1
        day -= _ONE_DAY
    return count


def longest_streak(days: Iterable[date]) -> int:
    """The longest run of consecutive active dates ever."""
    ordered = sorted(set(days))
    best = run = 0
    previous: date | None = None
    for day in ordered:
        run = run + 1 if previous is not None and day - previous == _ONE_DAY else 1
        best = max(best, run)
        previous = day
    return best


def streaks(days: Iterable[date], today: date) -> Streaks:
    """Current and longest streak in one go (the longest is never shorter than the current)."""
    active = frozenset(days)
    return Streaks(current=current_streak(active, today), longest=longest_streak(active))
