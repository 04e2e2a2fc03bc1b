"""A challenge window cut into raw edges, whole local days and whole local months covers it exactly once."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from gamification.streaks import CITY_TZ
from gamification.totals import WindowParts, split_window


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CITY_TZ)  # type: ignore[misc]


def _pieces(parts: WindowParts) -> list[tuple[datetime, datetime]]:
    """Every part as a time range, in time order."""

    def midnight(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=CITY_TZ)

    ranges = [(a, b) for a, b in parts.raw]
    ranges += [(midnight(a), midnight(b)) for a, b in parts.days]
    if parts.months is not None:
        ranges.append((midnight(parts.months[0]), midnight(parts.months[1])))
    return sorted(ranges, key=lambda r: r[0].timestamp())


def test_a_window_inside_one_day_is_read_raw() -> None:
    window = (_local(2026, 5, 4, 7), _local(2026, 5, 4, 18))
    assert split_window(*window) == WindowParts(raw=(window,), days=(), months=None)


def test_a_short_window_across_midnight_is_read_raw_one_local_day_at_a_time() -> None:
    parts = split_window(_local(2026, 5, 4, 22), _local(2026, 5, 5, 6))
    assert parts.raw == (
        (_local(2026, 5, 4, 22), _local(2026, 5, 5)),
        (_local(2026, 5, 5), _local(2026, 5, 5, 6)),
    )
    assert (parts.days, parts.months) == ((), None)


def test_local_midnight_to_midnight_needs_no_raw_rows() -> None:
    parts = split_window(_local(2026, 3, 1), _local(2026, 6, 1))
    assert parts == WindowParts(raw=(), days=(), months=(date(2026, 3, 1), date(2026, 6, 1)))


def test_a_thirty_day_window_is_two_partial_days_and_the_whole_days_between() -> None:
    parts = split_window(_local(2026, 10, 12, 9, 30), _local(2026, 11, 11, 9, 30))
    assert parts.raw == (
        (_local(2026, 10, 12, 9, 30), _local(2026, 10, 13)),
        (_local(2026, 11, 11), _local(2026, 11, 11, 9, 30)),
    )
    assert parts.days == ((date(2026, 10, 13), date(2026, 11, 11)),)
    assert parts.months is None


def test_whole_months_are_read_as_months_and_the_rest_as_days() -> None:
    parts = split_window(_local(2026, 1, 20, 8), _local(2026, 4, 3, 8))
    assert parts.days == ((date(2026, 1, 21), date(2026, 2, 1)), (date(2026, 4, 1), date(2026, 4, 3)))
    assert parts.months == (date(2026, 2, 1), date(2026, 4, 1))


def test_days_are_local_calendar_days_across_the_clock_change() -> None:
    # 2026-03-29 has 23 hours in Brussels; a window given in UTC from local midnight to local midnight
    parts = split_window(_local(2026, 3, 29).astimezone(UTC), _local(2026, 3, 30).astimezone(UTC))
    assert parts == WindowParts(raw=(), days=((date(2026, 3, 29), date(2026, 3, 30)),), months=None)


def test_random_windows_are_covered_exactly_once() -> None:
    rng = random.Random(11)
    for _ in range(500):
        start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        end = start + timedelta(minutes=rng.randrange(1, 366 * 24 * 60))
        pieces = _pieces(split_window(start, end))
        assert pieces[0][0] == start and pieces[-1][1] == end
        for (_, after), (before, _) in pairwise(pieces):
            assert after == before
        assert all(a < b for a, b in pieces)
        for a, b in split_window(start, end).raw:  # each raw range lies within one local day
            assert a.astimezone(CITY_TZ).date() == (b - timedelta(microseconds=1)).astimezone(CITY_TZ).date()
