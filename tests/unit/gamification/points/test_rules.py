from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from gamification.points.rules import (
    DEFAULT_RULES,
    PointRules,
    challenge_points,
    confirmation_points,
    is_qualifying_trip,
    report_acknowledged_points,
    report_confirmed_points,
    ride_points,
    streak_bonus,
)
from geo.classify import TravelMode


def test_bike_earns_points_per_whole_validated_km() -> None:
    assert ride_points(5_400, TravelMode.BIKE, 0) == 54


def test_walk_earns_more_per_km_than_bike_since_it_takes_longer() -> None:
    assert ride_points(2_000, TravelMode.WALK, 0) == 40
    assert ride_points(2_000, TravelMode.WALK, 0) > ride_points(2_000, TravelMode.BIKE, 0)


def test_motorised_ride_earns_nothing_however_long() -> None:
    assert ride_points(25_000, TravelMode.MOTORISED, 0) == 0


def test_ride_shorter_than_a_trip_earns_nothing() -> None:
    assert ride_points(DEFAULT_RULES.min_trip_m - 1, TravelMode.WALK, 0) == 0
    assert ride_points(DEFAULT_RULES.min_trip_m, TravelMode.WALK, 0) == 6


def test_flagged_ride_earns_nothing() -> None:
    assert ride_points(5_000, TravelMode.BIKE, 0, flagged=True) == 0


def test_daily_cap_cuts_the_ride_that_crosses_it() -> None:
    assert ride_points(5_000, TravelMode.BIKE, DEFAULT_RULES.daily_ride_cap - 20) == 20


def test_rides_after_the_daily_cap_earn_nothing() -> None:
    assert ride_points(5_000, TravelMode.BIKE, DEFAULT_RULES.daily_ride_cap) == 0
    assert ride_points(5_000, TravelMode.BIKE, DEFAULT_RULES.daily_ride_cap + 50) == 0


def test_splitting_a_ride_never_earns_more_than_riding_it_at_once() -> None:
    whole = ride_points(3_000, TravelMode.BIKE, 0)
    pieces = sum(ride_points(d, TravelMode.BIKE, 0) for d in (1_050, 950, 1_000))
    assert pieces <= whole


def test_qualifying_trip_excludes_motorised_flagged_and_short_rides() -> None:
    rules = DEFAULT_RULES
    assert is_qualifying_trip(1_000, TravelMode.BIKE, flagged=False, rules=rules)
    assert not is_qualifying_trip(1_000, TravelMode.MOTORISED, flagged=False, rules=rules)
    assert not is_qualifying_trip(1_000, TravelMode.BIKE, flagged=True, rules=rules)
    assert not is_qualifying_trip(100, TravelMode.WALK, flagged=False, rules=rules)


def test_report_earns_points_when_someone_else_confirms_it_not_for_filing() -> None:
    assert report_confirmed_points(confirmed_by_reporter=False) == DEFAULT_RULES.report_confirmed_points
    assert report_confirmed_points(confirmed_by_reporter=True) == 0


def test_report_earns_points_when_a_planner_acknowledges_it() -> None:
    assert report_acknowledged_points() == DEFAULT_RULES.report_acknowledged_points > 0


def test_confirmations_earn_small_points_up_to_the_daily_cap() -> None:
    earned, today = [], 0
    for _ in range(8):
        points = confirmation_points(today, own_report=False)
        earned.append(points)
        today += points
    assert earned == [2, 2, 2, 2, 2, 0, 0, 0]
    assert today == DEFAULT_RULES.daily_confirmation_cap


def test_confirming_ones_own_report_earns_nothing() -> None:
    assert confirmation_points(0, own_report=True) == 0


def test_streak_bonus_only_on_milestone_days() -> None:
    assert [streak_bonus(d) for d in (0, 1, 6, 7, 8, 13, 14)] == [0, 0, 0, 25, 0, 0, 25]


def test_challenge_points_go_to_contributors_of_a_team_that_reached_the_target() -> None:
    assert challenge_points(target_reached=True, contributed=True) == DEFAULT_RULES.challenge_target_points
    assert challenge_points(target_reached=True, contributed=False) == 0
    assert challenge_points(target_reached=False, contributed=True) == 0


def test_rules_are_data_a_city_can_change() -> None:
    rules = dataclasses.replace(
        DEFAULT_RULES,
        points_per_km=MappingProxyType({TravelMode.WALK: 5, TravelMode.BIKE: 5, TravelMode.MOTORISED: 0}),
        daily_ride_cap=12,
    )
    assert ride_points(2_000, TravelMode.WALK, 0, rules) == 10
    assert ride_points(4_000, TravelMode.BIKE, 0, rules) == 12


def test_rules_refuse_negative_amounts() -> None:
    with pytest.raises(ValueError, match="daily_ride_cap"):
        PointRules(daily_ride_cap=-1)
    with pytest.raises(ValueError, match="points_per_km"):
        PointRules(points_per_km={TravelMode.BIKE: -1})
