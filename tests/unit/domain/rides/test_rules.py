"""process_trace turns an upload into a storable, coordinate-free ride."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime

import h3
import pytest

from domain.hazards.rules import MAX_OBSERVED_AGE, UPLOAD_WINDOW
from domain.rides.rules import PipelineParams, ProcessedRide, process_trace
from geo.classify import TravelMode
from geo.errors import TraceError
from geo.points import TracePoint, haversine_m
from geo.simulator import simulate_ride
from geo.snapping import cell_centre
from privacy.zones.rules import make_zone

NOW = datetime(2026, 1, 2, tzinfo=UTC)
START = datetime(2026, 1, 1, 10, 0, 37, tzinfo=UTC).timestamp()


def run(seed: int = 1, mode: str = "bike", **kwargs: object) -> tuple[ProcessedRide, object]:
    ride = simulate_ride(random.Random(seed), mode=mode, start_t=START)  # type: ignore[arg-type]
    return process_trace(ride.points, now=NOW, trim_radius_m=200.0, **kwargs), ride  # type: ignore[arg-type]


def test_bike_ride_summary() -> None:
    result, ride = run()
    assert result.mode is TravelMode.BIKE
    assert result.distance_m == pytest.approx(ride.true_distance_m, rel=0.05)  # type: ignore[attr-defined]
    assert result.duration_s == pytest.approx(1799, abs=5)
    assert result.trimmed_m > 400
    assert result.started_at == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    assert result.point_count == 1800
    assert result.kept_point_count + result.dropped_accuracy + result.dropped_outliers == 1800
    assert result.cell_count == sum(len(s) for s in result.segments) > 20
    assert all(h3.get_resolution(c) == 10 for s in result.cells for c in s)


def test_offsets_count_from_the_minute_floored_start() -> None:
    result, _ = run()
    first = result.segments[0][0]
    assert first.offset_s >= 37  # the ride began 37 s past the minute, then was trimmed


def test_every_segment_is_connected_and_transitions_match() -> None:
    result, _ = run(mode="car")
    pairs = []
    for segment in result.segments:
        steps = list(itertools.pairwise(v.cell for v in segment))
        assert all(h3.are_neighbor_cells(a, b) for a, b in steps)
        pairs.extend(steps)
    assert list(result.transitions) == pairs


def test_result_holds_no_raw_coordinates() -> None:
    result, ride = run()
    floats = {f for f in dataclasses.astuple(result) if isinstance(f, float)}
    raw = {p.lat for p in ride.points} | {p.lon for p in ride.points}  # type: ignore[attr-defined]
    assert not floats & raw
    assert all(isinstance(c, str) for s in result.cells for c in s)


def test_no_cell_centre_inside_a_privacy_zone_and_the_zone_splits_the_path() -> None:
    _, ride = run()
    mid = ride.points[900]  # type: ignore[attr-defined]
    zone = make_zone(mid.lat, mid.lon, 300.0)
    result, _ = run(zones=[zone])
    assert len(result.segments) >= 2
    for segment in result.segments:
        for visit in segment:
            assert haversine_m(zone.lat, zone.lon, *cell_centre(visit.cell)) > zone.radius_m
            assert visit.cell != h3.latlng_to_cell(zone.lat, zone.lon, 10)


def test_resolution_is_a_parameter() -> None:
    from domain.rides.rules import PipelineParams

    result, _ = run(params=PipelineParams(resolution=9))
    assert result.resolution == 9
    assert all(h3.get_resolution(c) == 9 for s in result.cells for c in s)


def test_all_fixes_with_poor_accuracy_is_an_error() -> None:
    points = [TracePoint(51.03, 4.48 + i * 1e-4, START + i, 200.0) for i in range(10)]
    with pytest.raises(TraceError) as err:
        process_trace(points, now=NOW, trim_radius_m=200.0)
    assert err.value.field == "points"


def test_short_ride_is_valid_but_leaves_no_cells() -> None:
    points = [TracePoint(51.03, 4.48 + i * 1e-5, START + i, 5.0) for i in range(60)]
    result = process_trace(points, now=NOW, trim_radius_m=200.0)
    assert result.segments == ()
    assert result.transitions == ()
    assert result.distance_m > 0


def test_rides_and_hazard_reports_share_one_upload_window() -> None:
    assert PipelineParams().limits.max_age_s == UPLOAD_WINDOW.total_seconds() == 7 * 86400
    assert MAX_OBSERVED_AGE == UPLOAD_WINDOW
