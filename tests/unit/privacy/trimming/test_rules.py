"""Ride ends are trimmed by a per-ride radius that is stable yet unguessable."""

from __future__ import annotations

import random

import numpy as np
import pytest

from geo.cleaning import clean
from geo.points import Columns, TracePoint, haversine_array_m
from geo.simulator import simulate_ride
from privacy.trimming.rules import ride_trim_radius_m, trim_ends

SECRET = b"0123456789abcdef-user-1"


def test_radius_is_stable_for_the_same_user_and_ride() -> None:
    assert ride_trim_radius_m(SECRET, "ride-1") == ride_trim_radius_m(SECRET, b"ride-1")


def test_radius_varies_between_rides_within_bounds() -> None:
    radii = [ride_trim_radius_m(SECRET, f"ride-{k}") for k in range(200)]
    assert all(150 <= r < 250 for r in radii)
    assert max(radii) - min(radii) > 80
    assert len(set(radii)) == 200


def test_radius_depends_on_the_user_secret() -> None:
    assert ride_trim_radius_m(SECRET, "ride-1") != ride_trim_radius_m(b"another-secret-16bytes", "ride-1")


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="16"):
        ride_trim_radius_m(b"short", "ride-1")


@pytest.mark.parametrize("seed", range(6))
def test_no_kept_fix_lies_within_the_radius_of_the_true_start_or_end(seed: int) -> None:
    ride = simulate_ride(random.Random(seed), mode="bike" if seed % 2 else "walk")
    cols = clean(Columns.from_points(ride.points)).points
    radius = ride_trim_radius_m(SECRET, f"ride-{seed}")
    result = trim_ends(cols, radius)
    kept = cols.take(result.keep)
    assert len(kept) > 0
    # the true start/end are up to a few metres of GPS error from the first/last fix
    for lat, lon in ((ride.true_lat[0], ride.true_lon[0]), (ride.true_lat[-1], ride.true_lon[-1])):
        assert haversine_array_m(lat, lon, kept.lat, kept.lon).min() > radius - 15
    assert result.trimmed_m >= 2 * radius * 0.9


def test_head_and_tail_cut_is_exactly_up_to_the_first_and_last_far_fix() -> None:
    # 10 m steps east: start within 200 m are fixes 0..20, end within 200 m are 80..100
    points = [TracePoint(51.03, 4.48 + i * 10 / 70_000, float(i)) for i in range(101)]
    cols = Columns.from_points(points)
    result = trim_ends(cols, 200.0)
    kept = np.flatnonzero(result.keep)
    assert kept[0] > 0
    assert kept[-1] < 100
    d0 = haversine_array_m(cols.lat[0], cols.lon[0], cols.lat, cols.lon)
    assert d0[kept[0]] > 200 >= d0[kept[0] - 1]
    assert result.trimmed_m == pytest.approx(d0[kept[0]] + d0[-1] - d0[kept[-1]], rel=0.05)


def test_round_trip_passing_home_again_is_cut_there_too() -> None:
    east = [TracePoint(51.03, 4.48 + i * 10 / 70_000, float(i)) for i in range(100)]
    back = [TracePoint(p.lat, p.lon, 100.0 + i) for i, p in enumerate(reversed(east))]
    out = [TracePoint(51.03 + i * 10 / 111_000, 4.48, 200.0 + i) for i in range(100)]
    cols = Columns.from_points(east + back + out)
    keep = trim_ends(cols, 200.0).keep
    d0 = haversine_array_m(cols.lat[0], cols.lon[0], cols.lat, cols.lon)
    assert np.all(d0[keep] > 200)


def test_ride_that_never_leaves_the_radius_is_cut_entirely() -> None:
    points = [TracePoint(51.03, 4.48 + i * 1e-5, float(i)) for i in range(50)]
    result = trim_ends(Columns.from_points(points), 200.0)
    assert not result.keep.any()
