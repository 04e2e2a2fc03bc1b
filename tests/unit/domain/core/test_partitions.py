"""Month arithmetic of the history partitions: bounds, names, what to make and what may be dropped."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.core import partitions as p
from domain.core.partitions import CELL_EXPOSURE, RIDE_CELL


@pytest.mark.parametrize(
    ("month", "count", "expected"),
    [
        (date(2026, 6, 17), 0, date(2026, 6, 1)),
        (date(2026, 6, 1), 1, date(2026, 7, 1)),
        (date(2026, 12, 31), 1, date(2027, 1, 1)),
        (date(2026, 1, 31), -1, date(2025, 12, 1)),
        (date(2026, 3, 1), -14, date(2025, 1, 1)),
        (date(2026, 11, 1), 26, date(2029, 1, 1)),
    ],
)
def test_add_months_crosses_years_both_ways(month: date, count: int, expected: date) -> None:
    assert p.add_months(month, count) == expected


def test_a_month_ends_on_the_first_of_the_next_one_even_in_february_of_a_leap_year() -> None:
    assert p.month_end(date(2028, 2, 29)) == date(2028, 3, 1)
    assert p.month_end(date(2026, 12, 1)) == date(2027, 1, 1)


def test_months_lists_every_month_between_both_ends_included() -> None:
    assert list(p.months(date(2025, 11, 30), date(2026, 2, 1))) == [
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    assert list(p.months(date(2026, 2, 1), date(2026, 1, 31))) == []


def test_wanted_is_this_month_and_the_next_ones() -> None:
    assert p.wanted(date(2026, 11, 30), ahead=2) == [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1)]
    assert len(p.wanted(date(2026, 6, 17))) == p.MONTHS_AHEAD + 1


def test_partition_names_round_trip_and_foreign_names_are_ignored() -> None:
    name = RIDE_CELL.partition(date(2026, 3, 9))
    assert name == "ride_cell_p2026_03"
    assert p.month_of("ride_cell", name) == date(2026, 3, 1)
    assert p.month_of("cell_exposure", name) is None
    assert p.month_of("ride_cell", "ride_cell_default") is None
    assert p.month_of("ride_cell", "ride_cell_p2026_13") is None
    # a table whose name is another's prefix does not claim its partitions
    assert p.month_of("cell", "cell_exposure_p2026_03") is None


def test_bounds_are_utc_midnight_for_instants_and_plain_dates_for_days() -> None:
    assert RIDE_CELL.bound(date(2026, 3, 9)) == "'2026-03-01 00:00:00+00'"
    assert CELL_EXPOSURE.bound(date(2026, 3, 9)) == "'2026-03-01'"


def test_only_months_that_ended_by_the_cutoff_are_wholly_expired() -> None:
    existing = [date(2025, 4, 1), date(2025, 5, 1), date(2025, 6, 1), date(2025, 7, 1)]
    cutoff = datetime(2025, 6, 1, tzinfo=UTC)  # May ended exactly at the cut-off
    assert p.wholly_expired(existing, cutoff) == [date(2025, 4, 1), date(2025, 5, 1)]
    assert p.partly_expired(existing, cutoff) == []
    later = datetime(2025, 6, 17, 8, 17, tzinfo=UTC)
    assert p.wholly_expired(existing, later) == [date(2025, 4, 1), date(2025, 5, 1)]
    assert p.partly_expired(existing, later) == [date(2025, 6, 1)]


def test_the_last_second_of_a_month_keeps_it() -> None:
    cutoff = datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC)
    assert p.wholly_expired([date(2025, 5, 1)], cutoff) == []
    assert p.partly_expired([date(2025, 5, 1)], cutoff) == [date(2025, 5, 1)]


def test_partitions_are_told_from_other_tables() -> None:
    assert p.is_partition("ride_cell_p2026_03") and p.is_partition("cell_transition_default")
    assert not p.is_partition("ride_cell") and not p.is_partition("ride") and not p.is_partition("app_user")
