"""Removal of GPS fixes that cannot be true, and the distance of what remains.

Phones produce two kinds of bad fixes: ones that say they are bad (a large
reported accuracy radius) and ones that do not (multipath "jumps" of 50-100 m
with a plausible accuracy). The first are dropped on their word. The second
are caught geometrically: a single fix far off the line joining its
neighbours is a *spike* (a car at 30 m/s travels in a line, so it keeps its
fixes, while a 60 m jump off a bike path makes a 120 m detour), and anything
still implying a speed no ground vehicle reaches is dropped against the last
kept fix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.points import EARTH_RADIUS_M, BoolArray, Columns, FloatArray, haversine_m

_M_PER_DEG = EARTH_RADIUS_M * np.pi / 180.0


@dataclass(frozen=True, slots=True)
class CleaningParams:
    """Thresholds for :func:`clean`.

    - ``max_accuracy_m`` 50: beyond that a fix cannot tell which street you are on
      (an H3 res-10 cell is ~66 m across its flats).
    - ``spike_m`` 30: the detour a fix adds to the path between its neighbours.
      Noise of a few metres adds < 20 m, a sharp turn at city speed ~10 m, a
      50-100 m outlier 100-200 m.
    - ``max_speed_mps`` 50 (180 km/h): faster than any legal road speed here, so a
      car at motorway speed stays, while teleports are dropped.
    - ``distance_step_m`` 10: the ride's distance is summed over fixes at least this
      far apart, so that GPS jitter during stops and slow walking is not counted.
    """

    max_accuracy_m: float = 50.0
    spike_m: float = 30.0
    max_speed_mps: float = 50.0
    distance_step_m: float = 10.0


@dataclass(frozen=True, slots=True)
class CleaningResult:
    """The kept fixes and why the others went (counts only, never positions)."""

    points: Columns
    dropped_accuracy: int
    dropped_outliers: int


def _spike_excess_m(cols: Columns, step: FloatArray | None = None) -> FloatArray:
    """How far each fix lengthens the path between its neighbours.

    Interior fixes: d(prev, p) + d(p, next) - d(prev, next). The two end fixes have
    one neighbour only, so their excess is their distance from the position
    linearly extrapolated from the two fixes next to them. ``step`` is
    ``cols.step_distances_m()`` when the caller has it already.
    """
    n = len(cols)
    excess = np.zeros(n)
    if n < 3:
        return excess
    if step is None:
        step = cols.step_distances_m()
    skip = cols.distances_m(slice(None, -2), slice(2, None))
    excess[1:-1] = step[:-1] + step[1:] - skip
    for end, a, b in ((0, 1, 2), (n - 1, n - 2, n - 3)):
        pred_lat = 2 * cols.lat[a] - cols.lat[b]
        pred_lon = 2 * cols.lon[a] - cols.lon[b]
        excess[end] = haversine_m(cols.lat[end], cols.lon[end], pred_lat, pred_lon)
    return excess


def _speed_filter(cols: Columns, max_speed_mps: float, step: FloatArray | None = None) -> BoolArray:
    """Keep fixes reachable from the last kept fix at ``max_speed_mps`` (sequential by nature).

    ``step`` is ``cols.step_distances_m()`` when the caller has it already.
    """
    n = len(cols)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    if step is None:
        step = cols.step_distances_m()
    dt = np.diff(cols.t)
    with np.errstate(divide="ignore", invalid="ignore"):
        fast = step > max_speed_mps * np.maximum(dt, 1e-9)
    if not fast.any():
        return keep
    lat, lon, t = cols.lat.tolist(), cols.lon.tolist(), cols.t.tolist()
    last = 0
    for i in range(1, n):
        if last == i - 1 and not fast[i - 1]:
            last = i
            continue
        d = haversine_m(lat[last], lon[last], lat[i], lon[i])
        if d <= max_speed_mps * max(t[i] - t[last], 1e-9):
            last = i
        else:
            keep[i] = False
    return keep


def clean(cols: Columns, params: CleaningParams | None = None) -> CleaningResult:
    """Drop fixes with poor reported accuracy, spikes, and impossible jumps."""
    params = params or CleaningParams()
    accurate = cols.accuracy <= params.max_accuracy_m
    kept = cols.take(accurate) if not accurate.all() else cols
    dropped_accuracy = len(cols) - len(kept)
    before = len(kept)
    step: FloatArray | None = kept.step_distances_m()  # shared by both filters while no spike goes
    not_spike = _spike_excess_m(kept, step) <= params.spike_m
    if not not_spike.all():
        kept = kept.take(not_spike)
        step = None
    reachable = _speed_filter(kept, params.max_speed_mps, step)
    if not reachable.all():
        kept = kept.take(reachable)
    return CleaningResult(kept, dropped_accuracy, before - len(kept))


def path_distance_m(cols: Columns, step_m: float = 10.0) -> float:
    """Length of the path, counting a fix only once it is ``step_m`` from the last counted one.

    Summing every 1 Hz step would add the GPS jitter to the distance (a few metres
    per second, more than a walker covers); a minimum step filters it out at the
    cost of cutting corners by at most ``step_m``. The last fix always counts.
    """
    cumulative = cumulative_distance_m(cols, step_m)
    return float(cumulative[-1]) if cumulative.shape[0] else 0.0


def cumulative_distance_m(cols: Columns, step_m: float = 10.0) -> FloatArray:
    """Per fix, the :func:`path_distance_m` from the first fix up to it.

    The value only grows at counted fixes (and at the last one), so the length of
    any part of the ride is a difference of two entries, without re-walking it.
    """
    n = len(cols)
    out = np.zeros(n)
    if n < 2:
        return out
    kx = float(np.cos(np.radians(np.mean(cols.lat)))) * _M_PER_DEG
    xs = (cols.lon * kx).tolist()
    ys = (cols.lat * _M_PER_DEG).tolist()
    step2 = step_m * step_m
    anchors = [0]
    ax, ay = xs[0], ys[0]
    for i in range(1, n - 1):
        dx = xs[i] - ax
        dy = ys[i] - ay
        if dx * dx + dy * dy >= step2:
            anchors.append(i)
            ax, ay = xs[i], ys[i]
    anchors.append(n - 1)
    idx = np.asarray(anchors)
    legs = cols.distances_m(idx[:-1], idx[1:])
    at_anchor = np.zeros(n)
    at_anchor[idx[1:]] = legs
    result: FloatArray = np.cumsum(at_anchor)
    return result
