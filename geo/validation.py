"""Validation of an uploaded trace against explicit, caller-supplied limits.

Every rule is checked vectorised and the *first* offending point is named in
the :class:`~geo.errors.TraceError` (``points[17].t``), so that a client can
fix its upload. The clock is never read here: ``now`` is passed in, which
keeps the function pure and the tests exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from geo.errors import OutsideUploadWindow, TraceError
from geo.points import Columns, TracePoint


@dataclass(frozen=True, slots=True)
class TraceLimits:
    """Bounds an upload must respect.

    ``max_points`` 20 000 is 5.5 h at 1 Hz, and ``max_duration_s`` 12 h covers any
    day's trip while bounding the work one request can cause. ``clock_skew_s``
    tolerates phones whose clock runs a little ahead of the server's.
    ``max_age_s`` is the upload window: a trace must have ended within it (7
    days: an app offline for a week still syncs, a backdated year does not).
    """

    max_points: int = 20_000
    max_duration_s: float = 12 * 3600.0
    min_points: int = 2
    clock_skew_s: float = 120.0
    max_age_s: float = 7 * 24 * 3600.0


def _first(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.argmax(mask))


def _plainly_valid(cols: Columns, latest_t: float) -> bool:
    """Whether every per-point rule holds, from a few whole-array reductions (``nan`` fails every test)."""
    lat, lon, t, acc = cols.lat, cols.lon, cols.t, cols.accuracy
    return len(cols) >= 2 and bool(
        lat.min() >= -90.0
        and lat.max() <= 90.0
        and lon.min() >= -180.0
        and lon.max() <= 180.0
        and -np.inf < t.min()
        and t.max() <= latest_t
        and acc.min() >= 0.0
        and acc.max() < np.inf
        and np.diff(t).min() >= 0
    )


def _raise_first_offence(cols: Columns, latest_t: float) -> None:
    """Raise the :class:`TraceError` naming the first offending point, rule by rule in documented order."""
    for name, values, low, high in (
        ("lat", cols.lat, -90.0, 90.0),
        ("lon", cols.lon, -180.0, 180.0),
        ("t", cols.t, -np.inf, np.inf),
        ("accuracy", cols.accuracy, 0.0, np.inf),
    ):
        not_finite = ~np.isfinite(values)
        if not_finite.any():
            raise TraceError(f"points[{_first(not_finite)}].{name}", "must be a finite number")
        out = (values < low) | (values > high)
        if out.any():
            raise TraceError(f"points[{_first(out)}].{name}", f"must be between {low:g} and {high:g}")
    backwards = np.diff(cols.t) < 0
    if backwards.any():
        i = _first(backwards) + 1
        raise TraceError(f"points[{i}].t", "timestamps must not decrease")
    future = cols.t > latest_t
    if future.any():
        raise TraceError(f"points[{_first(future)}].t", "timestamp is in the future")


def validate_trace(
    points: Sequence[TracePoint], *, now: datetime, limits: TraceLimits | None = None
) -> Columns:
    """Check ``points`` and return them as :class:`Columns`, or raise :class:`TraceError`.

    Rules: point count within limits; lat in [-90, 90] and lon in [-180, 180];
    finite numbers only; accuracy, when given, finite and >= 0; timestamps
    non-decreasing (equal ones happen with 1 Hz rounding), not later than
    ``now`` plus the allowed skew, spanning at most ``max_duration_s``, and
    ending no longer than ``max_age_s`` before ``now`` (:class:`OutsideUploadWindow`).
    """
    limits = limits or TraceLimits()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    n = len(points)
    if n < limits.min_points:
        raise TraceError("points", f"a ride needs at least {limits.min_points} points, got {n}")
    if n > limits.max_points:
        raise TraceError("points", f"a ride may have at most {limits.max_points} points, got {n}")
    cols = Columns.from_points(points)
    latest_t = now.timestamp() + limits.clock_skew_s
    if not _plainly_valid(cols, latest_t):
        _raise_first_offence(cols, latest_t)
    duration = float(cols.t[-1] - cols.t[0])
    if duration > limits.max_duration_s:
        raise TraceError(
            "points", f"a ride may last at most {limits.max_duration_s:g} s, this one lasts {duration:g} s"
        )
    if float(cols.t[-1]) < now.timestamp() - limits.max_age_s:
        days = limits.max_age_s / 86400
        raise OutsideUploadWindow(
            f"points[{len(cols) - 1}].t",
            f"rides are accepted until {days:g} days after they end, and this one ended earlier",
        )
    return cols
