"""The simulator is deterministic and produces the rides asked for."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from geo.points import haversine_m
from geo.simulator import MECHELEN, StreetMap, simulate_ride, street_grid


def test_same_seed_gives_the_same_ride() -> None:
    assert simulate_ride(random.Random(42)) == simulate_ride(random.Random(42))


def test_different_seeds_give_different_rides() -> None:
    assert simulate_ride(random.Random(1)).points != simulate_ride(random.Random(2)).points


def test_thirty_minute_ride_has_1800_points_at_1_hz() -> None:
    ride = simulate_ride(random.Random(0), mode="bike", duration_s=1800, start_t=1000.0)
    assert len(ride.points) == 1800
    assert [p.t for p in ride.points[:3]] == [1000.0, 1001.0, 1002.0]
    assert ride.points[-1].t - ride.points[0].t == 1799


@pytest.mark.parametrize(
    ("mode", "low", "high"), [("walk", 1.0, 1.8), ("bike", 3.5, 6.5), ("car", 6.0, 14.0)]
)
def test_average_true_speed_fits_the_mode(mode: str, low: float, high: float) -> None:
    ride = simulate_ride(random.Random(9), mode=mode, duration_s=1800)  # type: ignore[arg-type]
    assert low < ride.true_distance_m / 1800 < high


def test_rides_stay_in_the_city() -> None:
    ride = simulate_ride(random.Random(4), mode="car")
    assert all(haversine_m(p.lat, p.lon, *MECHELEN) < 3000 for p in ride.points)


def test_noise_is_a_few_metres_apart_from_outliers_and_poor_fixes() -> None:
    ride = simulate_ride(random.Random(6))
    errors = [
        haversine_m(p.lat, p.lon, la, lo)
        for k, (p, la, lo) in enumerate(zip(ride.points, ride.true_lat, ride.true_lon, strict=True))
        if k not in ride.outlier_indexes and (p.accuracy or 0) < 50
    ]
    assert sorted(errors)[len(errors) // 2] < 6


def test_street_grid_is_stable_per_seed() -> None:
    assert street_grid(3) == street_grid(3)
    assert street_grid(3) != street_grid(4)


def _square(one_way: bool = True) -> StreetMap:
    """Four junctions ~100 m apart around a block: 1-2-3-4-1; 1->2 one-way for the bicycle, and a
    footpath 1-3 across that only walkers may use."""
    lat, lon = MECHELEN
    d = 0.0009
    corners = {1: (lat, lon), 2: (lat, lon + 1.4 * d), 3: (lat + d, lon + 1.4 * d), 4: (lat + d, lon)}
    ends = [(1, 2), (2, 3), (3, 4), (4, 1), (1, 3)]
    lats = [np.array([corners[a][0], (corners[a][0] + corners[b][0]) / 2, corners[b][0]]) for a, b in ends]
    lons = [np.array([corners[a][1], (corners[a][1] + corners[b][1]) / 2, corners[b][1]]) for a, b in ends]
    length = np.array([haversine_m(*corners[a], *corners[b]) for a, b in ends])
    path = np.array([False, False, False, False, True])
    forward = ~path
    backward = ~path & np.array([not one_way, True, True, True, True])
    return StreetMap.build(
        from_node=np.array([a for a, _ in ends]),
        to_node=np.array([b for _, b in ends]),
        lats=lats,
        lons=lons,
        length_m=length,
        directions={"bike": (forward, backward), "walk": (np.ones(5, bool), np.ones(5, bool))},
    )


def test_trips_on_a_street_map_follow_the_geometry_and_the_one_ways() -> None:
    streets = _square()
    rng = random.Random(1)
    here = streets.start(rng, "bike")
    for _ in range(200):
        points, end = streets.trip(rng, "bike", here)
        assert points[0][:2] == streets.position(here) and points[-1][:2] == streets.position(end)
        junctions = [p[:2] for p in points if p[2]]
        corners = {streets.position(n) for n in range(4)}
        assert set(junctions) <= corners and len(points) == 2 * len(junctions) - 1  # a midpoint between
        for a, b in itertools.pairwise(junctions):
            assert (a, b) != (streets.position(1), streets.position(0)), "rode 2 -> 1 against the one-way"
        here = end
    walker = streets.trip(random.Random(2), "walk", 0)[0]
    assert all(p[:2] in {streets.position(n) for n in range(4)} or not p[2] for p in walker)


def test_a_ride_on_a_street_map_is_reproducible_and_keeps_to_the_block() -> None:
    streets = _square(one_way=False)
    ride = simulate_ride(random.Random(5), mode="bike", duration_s=600, streets=streets)
    assert ride == simulate_ride(random.Random(5), mode="bike", duration_s=600, streets=streets)
    assert all(haversine_m(p.lat, p.lon, *MECHELEN) < 400 for p in ride.points)
    assert ride.true_distance_m > 4.0 * 600 * 0.5


def test_a_mode_without_two_junctions_to_ride_between_is_refused() -> None:
    square = _square()
    no = np.zeros(5, bool)
    with pytest.raises(ValueError, match="car"):
        StreetMap.build(
            from_node=np.array([1, 2, 3, 4, 1]),
            to_node=np.array([2, 3, 4, 1, 3]),
            lats=square.seg_lat,
            lons=square.seg_lon,
            length_m=np.full(5, 100.0),
            directions={"car": (no, no)},
        )
