from __future__ import annotations

import dataclasses
from datetime import time
from types import MappingProxyType
from typing import Any

import h3
import pytest

from domain.hazards.categories import LANGUAGES
from gamification.badges.rules import (
    CATALOGUE,
    Badge,
    EarlyBird,
    Explorer,
    FirstRide,
    MissingStatistic,
    ReportsConfirmed,
    Rule,
    SchoolHero,
    Streak,
    Threshold,
    UserStats,
    areas_of,
    badge,
    distinct_areas,
    evaluate,
    in_window,
    is_school_trip,
    open_explorer_resolutions,
    school_area,
    stats_needs,
)

NEEDS = stats_needs()


def _base() -> UserStats:
    """A user with nothing yet, but with every figure the catalogue needs present."""
    return UserStats(
        early_rides=MappingProxyType(dict.fromkeys(NEEDS.early_windows, 0)),
        distinct_areas=MappingProxyType(dict.fromkeys(NEEDS.area_resolutions, 0)),
    )


def _stats_for(rule: Rule, value: float) -> UserStats:
    """The snapshot whose figure for ``rule`` is ``value``, everything else zero."""
    base = _base()
    match rule:
        case FirstRide():
            return dataclasses.replace(base, rides=int(value))
        case Threshold(metric=metric):
            figure: dict[str, Any] = {metric: value if metric.endswith("_km") else int(value)}
            return dataclasses.replace(base, **figure)
        case Streak():
            return dataclasses.replace(base, longest_streak=int(value))
        case ReportsConfirmed():
            return dataclasses.replace(base, reports_confirmed=int(value))
        case EarlyBird():
            return dataclasses.replace(base, early_rides={**base.early_rides, rule.window: int(value)})
        case Explorer(area_resolution=res):
            return dataclasses.replace(base, distinct_areas={**base.distinct_areas, res: int(value)})
        case SchoolHero():
            return dataclasses.replace(base, school_days=int(value))


def _threshold(rule: Rule) -> float:
    match rule:
        case FirstRide():
            return 1
        case Threshold(at_least=n) | ReportsConfirmed(at_least=n) | EarlyBird(at_least=n):
            return n
        case Streak(days=n) | SchoolHero(school_days=n):
            return n
        case Explorer(distinct_areas=n):
            return n


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda b: b.code)
def test_badge_is_not_earned_just_below_its_threshold(entry: Badge) -> None:
    km = isinstance(entry.rule, Threshold) and entry.rule.metric.endswith("_km")
    below = _threshold(entry.rule) - (0.01 if km else 1)
    assert entry not in evaluate(_stats_for(entry.rule, below), set())


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda b: b.code)
def test_badge_is_earned_exactly_when_its_threshold_is_reached(entry: Badge) -> None:
    assert entry in evaluate(_stats_for(entry.rule, _threshold(entry.rule)), set())


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda b: b.code)
def test_badge_is_never_earned_twice(entry: Badge) -> None:
    stats = _stats_for(entry.rule, _threshold(entry.rule) * 3)
    assert entry not in evaluate(stats, {entry.code})


def test_one_ride_can_earn_several_badges_at_once_in_catalogue_order() -> None:
    stats = dataclasses.replace(_base(), rides=1, total_km=12.0, walk_km=12.0)
    assert [b.code for b in evaluate(stats, set())] == ["first_ride", "km_10", "walker_10"]
    assert [b.code for b in evaluate(stats, {"first_ride"})] == ["km_10", "walker_10"]


def test_a_broken_streak_keeps_the_badge_earned_on_the_longest_streak() -> None:
    stats = dataclasses.replace(_base(), longest_streak=7)
    assert badge("streak_7") in evaluate(stats, set())


def test_missing_aggregate_is_a_wiring_error_not_a_silent_no() -> None:
    with pytest.raises(MissingStatistic, match="early_rides"):
        evaluate(UserStats(rides=1), set())


def test_stats_needs_lists_the_windows_and_resolutions_of_the_catalogue() -> None:
    assert NEEDS.early_windows == {(time(5, 0), time(8, 0))}
    assert NEEDS.area_resolutions == {8}


def test_catalogue_codes_are_unique_and_named_in_every_language() -> None:
    codes = [b.code for b in CATALOGUE]
    assert len(codes) == len(set(codes))
    for entry in CATALOGUE:
        for language in LANGUAGES:
            assert entry.name.in_language(language)
            assert entry.description.in_language(language)
    assert badge("no_such_badge") is None


def test_early_bird_window_excludes_the_night_and_eight_oclock() -> None:
    window = EarlyBird(rides_before=time(8, 0), at_least=5).window
    assert in_window(time(7, 59), window)
    assert in_window(time(5, 0), window)
    assert not in_window(time(8, 0), window)
    assert not in_window(time(1, 0), window)


def test_distinct_areas_counts_parent_cells() -> None:
    here = h3.latlng_to_cell(51.0259, 4.4776, 10)
    neighbours = h3.grid_disk(here, 1)
    far = h3.latlng_to_cell(51.2093, 3.2247, 10)  # Bruges, another res-8 area
    assert distinct_areas([*neighbours, far], 8) == len({h3.cell_to_parent(c, 8) for c in neighbours}) + 1
    assert distinct_areas([], 8) == 0


def test_areas_of_lists_each_parent_once_per_resolution_as_integers() -> None:
    here = h3.latlng_to_cell(51.0259, 4.4776, 10)
    cells = [*h3.grid_disk(here, 1), here, h3.latlng_to_cell(51.2093, 3.2247, 10)]
    areas = areas_of(cells, (7, 8))
    for res in (7, 8):
        expected = {h3.str_to_int(h3.cell_to_parent(c, res)) for c in cells}
        assert sorted(a for r, a in areas if r == res) == sorted(expected)
    assert areas == sorted(set(areas))
    assert areas_of([h3.latlng_to_cell(51.0, 4.4, 6)], (8,)) == []  # coarser than the area: none
    assert areas_of([], (8,)) == []


def test_explorer_areas_are_collected_only_while_an_explorer_badge_is_open() -> None:
    explorers = {b.code: b.rule.area_resolution for b in CATALOGUE if isinstance(b.rule, Explorer)}
    assert open_explorer_resolutions(()) == tuple(sorted(set(explorers.values())))
    assert open_explorer_resolutions(explorers) == ()


def test_school_trip_is_recognised_despite_end_trimming() -> None:
    school = h3.latlng_to_cell(51.0259, 4.4776, 10)
    area = school_area(school)
    stop_short = h3.grid_ring(school, 2)[0]  # ~250 m before the gate: where trimming leaves the path
    elsewhere = h3.latlng_to_cell(51.04, 4.50, 10)
    assert is_school_trip([elsewhere, stop_short], area)
    assert not is_school_trip([stop_short, elsewhere], area)
    assert not is_school_trip([], area)
