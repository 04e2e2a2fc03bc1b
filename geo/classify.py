"""Travel mode from robust statistics of the moving speed.

Speeds are measured as the chord over a ~10 s window rather than between
consecutive 1 Hz fixes: a few metres of GPS noise turn into several m/s of
fake speed per second, more than a walker's whole speed, but into well under
0.5 m/s over ten seconds. Stops (waiting at lights) are ignored so that a
cyclist stuck at junctions is not taken for a walker.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from geo.points import Columns, FloatArray


class TravelMode(StrEnum):
    """How a ride was made; the values are the wire and database spelling."""

    WALK = "walk"
    BIKE = "bike"
    MOTORISED = "motorised"


@dataclass(frozen=True, slots=True)
class ClassifyThresholds:
    """Speeds in m/s separating the modes (defaults from urban mobility surveys).

    - moving: window speed above ``stop_mps`` 0.8 (slower is standing, with GPS drift).
    - walk: median <= ``walk_median_mps`` 2.3 (8.3 km/h, a brisk walk or slow jog)
      and 85th percentile <= ``walk_p85_mps`` 3.2 (short runs for a bus are fine).
    - motorised: median > ``motor_median_mps`` 7.5 (27 km/h sustained; utility
      cyclists' median is 4-6 m/s, e-bikes assist only up to 25 km/h) or 95th
      percentile > ``motor_p95_mps`` 12.5 (45 km/h, above even a speed pedelec's cap).
    - bike: everything in between. A jogger lands here; without accelerometer data
      speed cannot tell them apart.
    - fewer than ``min_moving_s`` of movement: walk, the mode that awards nothing extra.
    """

    window_s: float = 10.0
    stop_mps: float = 0.8
    walk_median_mps: float = 2.3
    walk_p85_mps: float = 3.2
    motor_median_mps: float = 7.5
    motor_p95_mps: float = 12.5
    min_moving_s: float = 20.0


def window_speeds_mps(cols: Columns, window_s: float = 10.0) -> FloatArray:
    """Per fix, the chord speed over the window of ``window_s`` centred on it.

    Near the ends the window is cut short; a window spanning no time gives 0.
    """
    n = len(cols)
    if n < 2:
        return np.zeros(n)
    half = window_s / 2
    lo = np.searchsorted(cols.t, cols.t - half, side="left")
    hi = np.searchsorted(cols.t, cols.t + half, side="right") - 1
    dist = cols.distances_m(lo, hi)
    dt = cols.t[hi] - cols.t[lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        speeds: FloatArray = np.where(dt > 0, dist / np.where(dt > 0, dt, 1.0), 0.0)
    return speeds


def classify_mode(
    speeds_mps: FloatArray, t: FloatArray, thresholds: ClassifyThresholds | None = None
) -> TravelMode:
    """Classify from per-fix window speeds and the fixes' times (for the moving time)."""
    th = thresholds or ClassifyThresholds()
    if speeds_mps.shape[0] < 2:
        return TravelMode.WALK
    moving = speeds_mps > th.stop_mps
    # time each fix "stands for": half the gap to each neighbour
    dt = np.diff(t)
    weight = np.zeros_like(t)
    weight[:-1] += dt / 2
    weight[1:] += dt / 2
    if float(weight[moving].sum()) < th.min_moving_s:
        return TravelMode.WALK
    median, p85, p95 = np.percentile(speeds_mps[moving], [50, 85, 95])
    if median > th.motor_median_mps or p95 > th.motor_p95_mps:
        return TravelMode.MOTORISED
    if median <= th.walk_median_mps and p85 <= th.walk_p85_mps:
        return TravelMode.WALK
    return TravelMode.BIKE
