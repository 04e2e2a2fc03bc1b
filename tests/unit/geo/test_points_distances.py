"""Columns.distances_m is haversine_array_m with the latitudes' cosines computed once per trace."""

from __future__ import annotations

import random

import numpy as np
import pytest

from geo.points import Columns, haversine_array_m
from geo.simulator import simulate_ride


@pytest.mark.parametrize(("seed", "mode"), [(1, "walk"), (2, "bike"), (3, "car")])
def test_distances_are_the_same_floats_as_haversine_array_m(seed: int, mode: str) -> None:
    rng = random.Random(seed)
    cols = Columns.from_points(simulate_ride(rng, mode=mode, duration_s=600).points)  # type: ignore[arg-type]
    lat, lon = cols.lat, cols.lon
    assert np.array_equal(cols.step_distances_m(), haversine_array_m(lat[:-1], lon[:-1], lat[1:], lon[1:]))
    a = np.sort(np.array(rng.sample(range(len(cols)), 200)))
    b = np.sort(np.array(rng.sample(range(len(cols)), 200)))
    assert np.array_equal(cols.distances_m(a, b), haversine_array_m(lat[a], lon[a], lat[b], lon[b]))
    for k in (0, -1):
        assert np.array_equal(cols.distances_m(k, slice(None)), haversine_array_m(lat[k], lon[k], lat, lon))


def test_a_taken_sub_trace_keeps_consistent_cosines() -> None:
    cols = Columns.from_points(simulate_ride(random.Random(4)).points)
    cols.lat_rad()
    mask = np.arange(len(cols)) % 3 != 0
    sub = cols.take(mask)
    fresh = Columns(sub.lat, sub.lon, sub.t, sub.accuracy)
    assert np.array_equal(sub.step_distances_m(), fresh.step_distances_m())
    assert np.array_equal(sub.lat_rad()[1], fresh.lat_rad()[1])
