"""Trace points, distances and the column view the pipeline computes on.

Coordinates are WGS84 degrees, always named ``lat``/``lon`` (never a bare
tuple at a public boundary). Times are POSIX epoch seconds as ``float``
(UTC by definition): arithmetic on them is cheap and exact enough (µs), and
the pipeline needs differences far more often than calendar dates. Use
:meth:`TracePoint.at` to build one from a timezone-aware ``datetime``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), the radius h3 also uses for its distances."""

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class TracePoint(msgspec.Struct, frozen=True, gc=False):
    """One GPS fix as uploaded: position, epoch-second time, reported accuracy.

    ``accuracy`` is the phone's horizontal accuracy radius in metres, ``None``
    when the device did not report one (treated as "good enough").
    The type does not validate itself: :func:`geo.validation.validate_trace`
    does, so that it can name the offending index in its error.
    A frozen, untracked msgspec struct rather than a frozen dataclass: an
    upload builds 1,800 of them per 30-minute ride, and a frozen dataclass
    costs about ten times as much to construct.
    """

    lat: float
    lon: float
    t: float
    accuracy: float | None = None

    @classmethod
    def at(cls, lat: float, lon: float, when: datetime, accuracy: float | None = None) -> TracePoint:
        """Build a point from an aware datetime; a naive one is ambiguous and refused."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("TracePoint.at needs a timezone-aware datetime")
        return cls(lat, lon, when.timestamp(), accuracy)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres; accurate to ~0.5 % (spherical Earth), plenty for rides."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def haversine_array_m(
    lat1: FloatArray | float, lon1: FloatArray | float, lat2: FloatArray | float, lon2: FloatArray | float
) -> FloatArray:
    """Element-wise :func:`haversine_m` over numpy arrays (the pipeline's hot path); scalars broadcast."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    return result


Pick = IndexArray | slice | int
"""Which fixes of a :class:`Columns`: an index array, a slice or one index."""


@dataclass(frozen=True, slots=True)
class Columns:
    """A trace as parallel arrays, so every stage is vectorised instead of per-object.

    ``accuracy`` holds ``0.0`` where the device reported none: an unknown accuracy is
    treated as good, and 0 keeps the array free of ``nan`` so that a *sent* ``nan``
    can still be told apart and rejected by validation.
    """

    lat: FloatArray
    lon: FloatArray
    t: FloatArray
    accuracy: FloatArray
    _lat_rad: tuple[FloatArray, FloatArray] | None = field(default=None, repr=False, compare=False)
    """``(radians(lat), cos(radians(lat)))``, made on first use: every distance over a trace needs them."""

    @classmethod
    def from_points(cls, points: Sequence[TracePoint]) -> Columns:
        """Copy the points into float64 arrays (one pass per field)."""
        n = len(points)
        return cls(
            lat=np.fromiter((p.lat for p in points), dtype=np.float64, count=n),
            lon=np.fromiter((p.lon for p in points), dtype=np.float64, count=n),
            t=np.fromiter((p.t for p in points), dtype=np.float64, count=n),
            accuracy=np.fromiter(
                (0.0 if p.accuracy is None else p.accuracy for p in points), dtype=np.float64, count=n
            ),
        )

    def __len__(self) -> int:
        return int(self.lat.shape[0])

    def take(self, index: IndexArray | BoolArray) -> Columns:
        """The sub-trace selected by an index array or a boolean mask."""
        rad = self._lat_rad
        picked = None if rad is None else (rad[0][index], rad[1][index])
        return Columns(self.lat[index], self.lon[index], self.t[index], self.accuracy[index], picked)

    def lat_rad(self) -> tuple[FloatArray, FloatArray]:
        """``(radians(lat), cos(radians(lat)))`` per fix, computed once per :class:`Columns`."""
        if self._lat_rad is None:
            phi = np.radians(self.lat)
            object.__setattr__(self, "_lat_rad", (phi, np.cos(phi)))
        assert self._lat_rad is not None
        return self._lat_rad

    def distances_m(self, a: Pick, b: Pick) -> FloatArray:
        """:func:`haversine_array_m` from fixes ``a`` to fixes ``b`` (the same floats, fewer cosines)."""
        phi, cos_phi = self.lat_rad()
        p1, p2 = phi[a], phi[b]
        h = (
            np.sin((p2 - p1) / 2) ** 2
            + cos_phi[a] * cos_phi[b] * np.sin(np.radians(self.lon[b] - self.lon[a]) / 2) ** 2
        )
        result: FloatArray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
        return result

    def step_distances_m(self) -> FloatArray:
        """Distance from each point to the next (length ``n - 1``)."""
        return self.distances_m(slice(None, -1), slice(1, None))


def true_runs(mask: BoolArray) -> list[tuple[int, int]]:
    """The ``[start, stop)`` index ranges where ``mask`` is true, in order."""
    if mask.shape[0] == 0:
        return []
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
