"""Tag rules: legality, one-ways for bicycles, speed limits, infrastructure classes, priors, weights."""

from __future__ import annotations

import pytest

from domain.streets.rules import (
    PRIOR_DANGER,
    Infrastructure,
    bicycle_directions,
    child_avoids,
    classify,
    combined_danger,
    cost_factor,
    parse_maxspeed,
    prior_danger,
)


def test_motorways_and_areas_and_unknown_highways_are_not_kept() -> None:
    assert classify({"highway": "motorway"}) is None
    assert classify({"highway": "pedestrian", "area": "yes"}) is None
    assert classify({"highway": "construction"}) is None
    assert classify({"building": "yes"}) is None


def test_a_footway_is_for_pedestrians_unless_bicycles_are_allowed() -> None:
    foot = classify({"highway": "footway"})
    assert foot is not None and foot.foot and not foot.bicycle_forward and not foot.bicycle_backward
    shared = classify({"highway": "footway", "bicycle": "designated"})
    assert shared is not None and shared.bicycle_forward and shared.bicycle_backward
    assert shared.infrastructure is Infrastructure.SEPARATED


def test_access_no_closes_a_way_unless_the_mode_is_allowed_explicitly() -> None:
    assert classify({"highway": "service", "access": "private"}) is None
    open_to_bikes = classify({"highway": "service", "access": "no", "bicycle": "yes"})
    assert open_to_bikes is not None and open_to_bikes.bicycle_forward and not open_to_bikes.foot
    assert classify({"highway": "residential", "bicycle": "no", "foot": "no"}) is None


def test_trunk_roads_and_steps_carry_no_bicycles_by_default() -> None:
    assert classify({"highway": "trunk"}) is None
    steps = classify({"highway": "steps"})
    assert steps is not None and steps.foot and not steps.bicycle_forward


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, (True, True)),
        ({"oneway": "yes"}, (True, False)),
        ({"oneway": "-1"}, (False, True)),
        ({"oneway": "yes", "oneway:bicycle": "no"}, (True, True)),
        ({"oneway": "yes", "cycleway": "opposite_lane"}, (True, True)),
        ({"junction": "roundabout"}, (True, False)),
        ({"oneway": "no", "oneway:bicycle": "yes"}, (True, False)),
    ],
)
def test_bicycle_one_way_rules(tags: dict[str, str], expected: tuple[bool, bool]) -> None:
    assert bicycle_directions(tags, "residential") == expected


@pytest.mark.parametrize(
    ("value", "kmh"),
    [("50", 50), ("30 mph", 48), ("BE:urban", 50), ("BE-VLG:urban", 50), ("DE:zone30", 30),
     ("DE:zone:30", 30), ("walk", 6), ("none", None), ("signals", None), (None, None), ("0", None)],
)  # fmt: skip
def test_maxspeed_parsing(value: str | None, kmh: int | None) -> None:
    assert parse_maxspeed(value) == kmh


def test_missing_maxspeed_takes_the_highway_default_and_says_so() -> None:
    street = classify({"highway": "residential"})
    assert street is not None and street.maxspeed_kmh == 30 and not street.maxspeed_tagged
    road = classify({"highway": "secondary"})
    assert road is not None and road.maxspeed_kmh == 50 and road.infrastructure is Infrastructure.NONE
    path = classify({"highway": "cycleway", "maxspeed": "50"})
    assert path is not None and path.maxspeed_kmh is None


@pytest.mark.parametrize(
    ("tags", "infra"),
    [
        ({"highway": "cycleway"}, Infrastructure.SEPARATED),
        ({"highway": "primary", "cycleway:right": "track"}, Infrastructure.SEPARATED),
        ({"highway": "primary", "cycleway": "lane"}, Infrastructure.LANE),
        ({"highway": "residential", "maxspeed": "30"}, Infrastructure.SHARED_QUIET),
        ({"highway": "residential", "maxspeed": "50"}, Infrastructure.NONE),
        ({"highway": "tertiary", "cyclestreet": "yes"}, Infrastructure.SHARED_QUIET),
        ({"highway": "tertiary"}, Infrastructure.NONE),
    ],
)
def test_infrastructure_class(tags: dict[str, str], infra: Infrastructure) -> None:
    rules = classify(tags)
    assert rules is not None and rules.infrastructure is infra


def test_priors_are_ordered_as_the_issue_asks() -> None:
    separated = prior_danger(Infrastructure.SEPARATED, None)
    lane = prior_danger(Infrastructure.LANE, 50)
    quiet = prior_danger(Infrastructure.SHARED_QUIET, 30)
    fast = prior_danger(Infrastructure.NONE, 50)
    assert separated < lane < quiet < fast < prior_danger(Infrastructure.NONE, 70)
    assert PRIOR_DANGER[Infrastructure.NONE] == fast


def test_measured_danger_joins_the_prior_monotonically_within_bounds() -> None:
    assert combined_danger(25.0, 0.0) == pytest.approx(25.0)
    assert combined_danger(25.0, 40.0) > max(25.0, 40.0)
    assert combined_danger(100.0, 100.0) == 100.0
    assert combined_danger(0.0, 0.0) == 0.0
    assert combined_danger(20.0, 30.0) < combined_danger(20.0, 31.0)


def test_cost_factors_order_profiles_and_punish_fast_streets_for_children() -> None:
    assert cost_factor("shortest", 80.0, child_avoided=True) == 1.0
    assert (
        1.0
        < cost_factor("balanced", 50.0, child_avoided=False)
        < cost_factor("safest", 50.0, child_avoided=False)
    )
    assert cost_factor("child", 50.0, child_avoided=True) > 10 * cost_factor(
        "safest", 50.0, child_avoided=True
    )
    assert cost_factor("child", 50.0, child_avoided=False) == cost_factor("safest", 50.0, child_avoided=False)
    assert child_avoids(Infrastructure.NONE, 50) and child_avoids(Infrastructure.LANE, 50)
    assert not child_avoids(Infrastructure.SEPARATED, 70) and not child_avoids(
        Infrastructure.SHARED_QUIET, 30
    )
