"""Start/end trimming: a ride must not point at where its maker lives or works.

Radius choice. A *fixed* radius per user is the weaker option: the first kept
fix of every ride lies on the same circle around home, and three rides fix a
circle's centre exactly. A radius drawn afresh *per ride* spreads those fixes
over a 100 m-wide annulus, so circle fitting fails and an attacker is left
averaging exit points, which are biased along the streets leaving home (and
then blurred again by ~66 m H3 cells). So the radius varies per ride; it is
still *deterministic*, ``HMAC(user secret, ride key)``, so that reprocessing
the same ride (a retry, a re-snap at another resolution) trims it identically
and a different radius cannot be averaged out by re-uploading. Nobody without
the user's secret can predict it. For real protection of home, users set a
privacy zone (:mod:`privacy.zones`); trimming is the default for those who don't.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np

from geo.cleaning import cumulative_distance_m
from geo.points import BoolArray, Columns, FloatArray, true_runs

DEFAULT_MIN_RADIUS_M = 150.0
DEFAULT_MAX_RADIUS_M = 250.0
_DOMAIN = b"saferoutes/trim-radius/v1\x00"


def ride_trim_radius_m(
    user_secret: bytes,
    ride_key: str | bytes,
    *,
    min_m: float = DEFAULT_MIN_RADIUS_M,
    max_m: float = DEFAULT_MAX_RADIUS_M,
) -> float:
    """The trimming radius of one ride: uniform in ``[min_m, max_m)``, stable, unguessable.

    ``user_secret`` is a per-user random secret (>= 16 bytes, stored server-side,
    erased with the user); ``ride_key`` identifies the ride (its id).
    """
    if len(user_secret) < 16:
        raise ValueError("user_secret must be at least 16 random bytes")
    if not 0 <= min_m <= max_m:
        raise ValueError("need 0 <= min_m <= max_m")
    key = ride_key.encode() if isinstance(ride_key, str) else ride_key
    digest = hmac.new(user_secret, _DOMAIN + key, hashlib.sha256).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64
    return min_m + unit * (max_m - min_m)


@dataclass(frozen=True, slots=True)
class TrimResult:
    """Which fixes survive trimming, and the path length that was cut."""

    keep: BoolArray
    trimmed_m: float


def trim_ends(
    cols: Columns, radius_m: float, *, distance_step_m: float = 10.0, cumulative_m: FloatArray | None = None
) -> TrimResult:
    """Cut the fixes near the start and the end of the ride.

    Drops every fix before the first one farther than ``radius_m`` from the start
    fix and after the last one farther than ``radius_m`` from the end fix, and
    also any fix in between that comes back within ``radius_m`` of either (a
    round trip passing home again would otherwise show it). A ride that never
    leaves the radius is cut entirely. ``cumulative_m`` (from
    :func:`geo.cleaning.cumulative_distance_m`) saves recomputing the path length.
    """
    n = len(cols)
    if n == 0:
        return TrimResult(np.zeros(0, dtype=bool), 0.0)
    d_start = cols.distances_m(0, slice(None))
    d_end = cols.distances_m(-1, slice(None))
    keep: BoolArray = (d_start > radius_m) & (d_end > radius_m)
    cum = cumulative_m if cumulative_m is not None else cumulative_distance_m(cols, distance_step_m)
    trimmed = 0.0
    for a, b in true_runs(~keep):
        # from the kept fix before the cut to the kept fix after it
        trimmed += float(cum[min(b, n - 1)] - cum[max(a - 1, 0)])
    return TrimResult(keep, trimmed)
