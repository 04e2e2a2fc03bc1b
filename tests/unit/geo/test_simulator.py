"""The simulator is deterministic and produces the rides asked for."""

from __future__ import annotations

import random

import pytest

from geo.points import haversine_m
from geo.simulator import MECHELEN, simulate_ride, street_grid


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
