"""Cleaning drops untrustworthy fixes only; the mode follows the moving speed."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from geo.classify import TravelMode, classify_mode, window_speeds_mps
from geo.cleaning import clean, path_distance_m
from geo.points import EARTH_RADIUS_M, Columns, TracePoint, haversine_m
from geo.simulator import simulate_ride

M_PER_DEG = EARTH_RADIUS_M * math.pi / 180


def straight(n: int, speed_mps: float, *, accuracy: float | None = 5.0) -> list[TracePoint]:
    """Eastward at constant speed along lat 51.03, 1 Hz."""
    kx = M_PER_DEG * math.cos(math.radians(51.03))
    return [TracePoint(51.03, 4.48 + i * speed_mps / kx, 1000.0 + i, accuracy) for i in range(n)]


def offset_north(p: TracePoint, metres: float) -> TracePoint:
    return TracePoint(p.lat + metres / M_PER_DEG, p.lon, p.t, p.accuracy)


def test_haversine_matches_a_known_distance() -> None:
    # one degree of latitude on the mean-radius sphere
    assert haversine_m(51.0, 4.0, 52.0, 4.0) == pytest.approx(111_195, rel=1e-4)


def test_poor_accuracy_fixes_are_dropped_and_unknown_accuracy_kept() -> None:
    points = straight(10, 5.0)
    points[3] = TracePoint(points[3].lat, points[3].lon, points[3].t, 80.0)
    points[4] = TracePoint(points[4].lat, points[4].lon, points[4].t, None)
    result = clean(Columns.from_points(points))
    assert result.dropped_accuracy == 1
    assert len(result.points) == 9


@pytest.mark.parametrize("offset_m", [50.0, 75.0, 100.0])
@pytest.mark.parametrize("index", [0, 10, 29])
def test_single_outlier_off_a_bike_path_is_removed(offset_m: float, index: int) -> None:
    points = straight(30, 5.0)
    points[index] = offset_north(points[index], offset_m)
    result = clean(Columns.from_points(points))
    assert result.dropped_outliers == 1
    assert np.all(result.points.lat == 51.03)


def test_car_at_30_mps_keeps_every_fix() -> None:
    result = clean(Columns.from_points(straight(60, 30.0)))
    assert result.dropped_outliers == 0
    assert len(result.points) == 60


def test_teleport_beyond_max_speed_is_dropped_against_last_kept_fix() -> None:
    points = straight(20, 5.0)
    # two consecutive fixes 5 km away: neither is a lone spike, both are impossible
    points[8] = offset_north(points[8], 5000)
    points[9] = offset_north(points[9], 5010)
    result = clean(Columns.from_points(points))
    assert result.dropped_outliers == 2
    assert np.all(result.points.lat == 51.03)


def test_simulated_outliers_are_all_removed() -> None:
    ride = simulate_ride(random.Random(7), mode="bike", outlier_rate=0.02, poor_fix_rate=0.0)
    assert len(ride.outlier_indexes) > 10
    result = clean(Columns.from_points(ride.points))
    kept_t = set(result.points.t.tolist())
    assert not any(ride.points[i].t in kept_t for i in ride.outlier_indexes)
    assert len(result.points) >= len(ride.points) - 3 * len(ride.outlier_indexes)


@pytest.mark.parametrize("mode", ["walk", "bike", "car"])
def test_distance_of_a_noisy_ride_is_within_five_percent_of_the_truth(mode: str) -> None:
    ride = simulate_ride(random.Random(3), mode=mode)  # type: ignore[arg-type]
    cols = clean(Columns.from_points(ride.points)).points
    assert path_distance_m(cols) == pytest.approx(ride.true_distance_m, rel=0.05)


def test_standing_still_with_jitter_adds_little_distance() -> None:
    rng = random.Random(1)
    points = [TracePoint(51.03 + rng.gauss(0, 2) / M_PER_DEG, 4.48, float(i), 5.0) for i in range(300)]
    assert path_distance_m(Columns.from_points(points)) < 30


def test_window_speed_recovers_constant_speed() -> None:
    cols = Columns.from_points(straight(60, 4.0))
    assert np.allclose(window_speeds_mps(cols), 4.0, rtol=1e-3)


EXPECTED = {"walk": TravelMode.WALK, "bike": TravelMode.BIKE, "car": TravelMode.MOTORISED}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("mode", ["walk", "bike", "car"])
def test_simulated_rides_are_classified_as_their_mode(mode: str, seed: int) -> None:
    ride = simulate_ride(random.Random(seed), mode=mode, duration_s=900)  # type: ignore[arg-type]
    cols = clean(Columns.from_points(ride.points)).points
    assert classify_mode(window_speeds_mps(cols), cols.t) is EXPECTED[mode]


def test_cyclist_waiting_long_at_lights_is_still_a_cyclist() -> None:
    points = straight(120, 5.0)
    waiting = [TracePoint(points[-1].lat, points[-1].lon, points[-1].t + k, 5.0) for k in range(1, 600)]
    cols = Columns.from_points(points + waiting)
    assert classify_mode(window_speeds_mps(cols), cols.t) is TravelMode.BIKE


def test_almost_no_movement_counts_as_walking() -> None:
    cols = Columns.from_points(straight(10, 5.0))
    assert classify_mode(window_speeds_mps(cols), cols.t) is TravelMode.WALK
