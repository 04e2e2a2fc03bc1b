from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gamification.streaks import CITY_TZ, active_days, current_streak, local_date, longest_streak, streaks


def _days(start: date, n: int) -> set[date]:
    return {start + timedelta(days=i) for i in range(n)}


def test_active_days_are_brussels_calendar_days_not_utc_days() -> None:
    # 23:30 UTC on 30 June is 01:30 on 1 July in Brussels (CEST)
    assert local_date(datetime(2025, 6, 30, 23, 30, tzinfo=UTC)) == date(2025, 7, 1)


def test_two_rides_on_one_local_day_make_one_active_day() -> None:
    moments = [datetime(2025, 5, 12, 7, 45, tzinfo=CITY_TZ), datetime(2025, 5, 12, 16, 0, tzinfo=CITY_TZ)]
    assert active_days(moments) == {date(2025, 5, 12)}


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2025, 5, 12, 7, 45))


def test_streak_runs_across_month_and_year_boundaries() -> None:
    assert longest_streak(_days(date(2025, 1, 30), 4)) == 4  # 30, 31 Jan, 1, 2 Feb
    assert longest_streak(_days(date(2025, 2, 27), 3)) == 3  # 27, 28 Feb, 1 Mar (no leap day)
    assert longest_streak(_days(date(2024, 12, 30), 4)) == 4
    assert current_streak(_days(date(2025, 2, 27), 3), today=date(2025, 3, 1)) == 3


def test_spring_dst_day_of_23_hours_does_not_break_a_streak() -> None:
    # clocks go forward on Sunday 30 March 2025: 00:15 to 00:15 next day is only 23 hours
    moments = [datetime(2025, 3, d, 0, 15, tzinfo=CITY_TZ).astimezone(UTC) for d in (29, 30, 31)]
    assert moments[2] - moments[1] == timedelta(hours=23)
    assert current_streak(active_days(moments), today=date(2025, 3, 31)) == 3


def test_autumn_dst_day_of_25_hours_counts_once() -> None:
    # clocks go back on Sunday 26 October 2025: 00:15 and 23:45 are 24.5 hours apart, one day
    local = [datetime(2025, 10, 26, 0, 15, tzinfo=CITY_TZ), datetime(2025, 10, 26, 23, 45, tzinfo=CITY_TZ)]
    moments = [m.astimezone(UTC) for m in local]  # rides are stored in UTC
    assert moments[1] - moments[0] == timedelta(hours=24, minutes=30)
    days = active_days(moments)
    assert days == {date(2025, 10, 26)}
    assert streaks(days | {date(2025, 10, 25)}, today=date(2025, 10, 26)).current == 2


def test_streak_is_still_alive_in_the_morning_before_todays_ride() -> None:
    days = _days(date(2025, 5, 5), 5)  # 5..9 May
    assert current_streak(days, today=date(2025, 5, 10)) == 5
    assert current_streak(days, today=date(2025, 5, 9)) == 5


def test_a_missed_day_breaks_the_current_streak_but_not_the_longest() -> None:
    days = _days(date(2025, 5, 1), 7) | {date(2025, 5, 10)}
    result = streaks(days, today=date(2025, 5, 12))
    assert result.current == 0
    assert result.longest == 7


def test_no_activity_means_no_streak() -> None:
    assert streaks(set(), today=date(2025, 5, 12)).longest == 0
