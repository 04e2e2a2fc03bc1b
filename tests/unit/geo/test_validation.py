"""Upload validation: each rule rejects with the offending field named."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from geo.errors import OutsideUploadWindow, TraceError
from geo.points import TracePoint
from geo.validation import TraceLimits, validate_trace

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
T0 = NOW.timestamp() - 3600


def trace(n: int = 5) -> list[TracePoint]:
    return [TracePoint(51.03 + i * 1e-4, 4.48, T0 + i, 5.0) for i in range(n)]


def replaced(index: int, **changes: float | None) -> list[TracePoint]:
    points = trace()
    p = points[index]
    values = {"lat": p.lat, "lon": p.lon, "t": p.t, "accuracy": p.accuracy, **changes}
    points[index] = TracePoint(**values)  # type: ignore[arg-type]
    return points


def test_valid_trace_becomes_columns_with_unknown_accuracy_as_zero() -> None:
    points = trace()
    points[2] = TracePoint(points[2].lat, points[2].lon, points[2].t, None)
    cols = validate_trace(points, now=NOW)
    assert len(cols) == 5
    assert cols.accuracy[2] == 0.0


@pytest.mark.parametrize(
    ("index", "changes", "field"),
    [
        (1, {"lat": 90.5}, "points[1].lat"),
        (2, {"lat": -91.0}, "points[2].lat"),
        (3, {"lon": 180.01}, "points[3].lon"),
        (0, {"lon": -200.0}, "points[0].lon"),
        (4, {"lat": math.nan}, "points[4].lat"),
        (1, {"lon": math.inf}, "points[1].lon"),
        (2, {"t": math.nan}, "points[2].t"),
        (3, {"accuracy": -1.0}, "points[3].accuracy"),
        (3, {"accuracy": math.nan}, "points[3].accuracy"),
        (3, {"t": T0}, "points[3].t"),
        (4, {"t": NOW.timestamp() + 600}, "points[4].t"),
    ],
)
def test_invalid_point_is_rejected_naming_its_field(
    index: int, changes: dict[str, float], field: str
) -> None:
    with pytest.raises(TraceError) as err:
        validate_trace(replaced(index, **changes), now=NOW)
    assert err.value.field == field


def test_error_message_never_contains_the_coordinate() -> None:
    with pytest.raises(TraceError) as err:
        validate_trace(replaced(1, lat=95.123456), now=NOW)
    assert "95.12" not in str(err.value)


def test_small_clock_skew_is_tolerated() -> None:
    validate_trace(replaced(4, t=NOW.timestamp() + 60), now=NOW)


def test_equal_timestamps_are_allowed() -> None:
    validate_trace(replaced(2, t=T0 + 1), now=NOW)


def test_single_point_is_not_a_ride() -> None:
    with pytest.raises(TraceError) as err:
        validate_trace(trace(1), now=NOW)
    assert err.value.field == "points"


def test_too_many_points_are_rejected() -> None:
    with pytest.raises(TraceError, match="at most 4 points"):
        validate_trace(trace(5), now=NOW, limits=TraceLimits(max_points=4))


def test_too_long_a_ride_is_rejected() -> None:
    points = [TracePoint(51.0, 4.0, T0 - 13 * 3600, None), TracePoint(51.0, 4.0, T0, None)]
    with pytest.raises(TraceError, match="at most 43200 s"):
        validate_trace(points, now=NOW)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_trace(trace(), now=datetime(2026, 1, 1))


def test_trace_point_from_naive_datetime_is_refused_and_aware_one_converted() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TracePoint.at(51.0, 4.0, datetime(2026, 1, 1))
    assert TracePoint.at(51.0, 4.0, NOW).t == NOW.timestamp()


@pytest.mark.parametrize(
    ("offences", "field"),
    [
        ({3: {"accuracy": -1.0}, 4: {"lat": 95.0}}, "points[4].lat"),
        ({1: {"lon": 190.0}, 2: {"lon": math.nan}}, "points[2].lon"),
        ({1: {"t": T0 - 5}, 3: {"t": math.inf}}, "points[3].t"),
        ({2: {"t": T0}, 4: {"t": NOW.timestamp() + 600}}, "points[2].t"),
        ({0: {"accuracy": math.inf}, 2: {"accuracy": -2.0}}, "points[0].accuracy"),
    ],
)
def test_with_several_offences_the_rules_are_checked_in_order(
    offences: dict[int, dict[str, float]], field: str
) -> None:
    points = trace()
    for index, changes in offences.items():
        p = points[index]
        values = {"lat": p.lat, "lon": p.lon, "t": p.t, "accuracy": p.accuracy, **changes}
        points[index] = TracePoint(**values)  # type: ignore[arg-type]
    with pytest.raises(TraceError) as err:
        validate_trace(points, now=NOW)
    assert err.value.field == field


def test_a_ride_that_ended_within_the_upload_window_is_accepted() -> None:
    week = TraceLimits().max_age_s
    ended_a_week_ago = [TracePoint(51.03, 4.48, NOW.timestamp() - week - 60 + i * 60, 5.0) for i in range(2)]
    validate_trace(ended_a_week_ago, now=NOW)


@pytest.mark.parametrize(
    "ends",
    [NOW.timestamp() - 7 * 86400 - 1, datetime(2020, 1, 15, tzinfo=UTC).timestamp(), 0.0, -1e12],
    ids=["a-week-and-a-second", "2020", "1970", "minus-1e12"],
)
def test_a_ride_that_ended_before_the_upload_window_is_refused(ends: float) -> None:
    points = [TracePoint(51.03, 4.48, ends - 60, 5.0), TracePoint(51.031, 4.48, ends, 5.0)]
    with pytest.raises(OutsideUploadWindow) as refused:
        validate_trace(points, now=NOW)
    assert refused.value.field == "points[1].t"
    assert "7 days" in refused.value.message
