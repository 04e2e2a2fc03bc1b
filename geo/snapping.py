"""Snapping cleaned fixes to H3 cells, and the cell path's derived forms.

h3 (v4) speaks ``(lat, lng)``; GeoJSON speaks ``[lng, lat]``. Inside this
module positions are always named, and :func:`cell_path_geometry` is the one
place that swaps them.

Snapping a 1 Hz trace calls ``h3.latlng_to_cell`` far more often than needed:
a cyclist spends ~25 s in a res-10 cell. So once a fix is snapped, later fixes
within the cell's *inscribed* circle (computed once per cell from its boundary,
with a 5 % margin) are known to be in the same cell without asking h3.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import h3
import numpy as np
from h3.api import basic_int as h3int

from geo.points import EARTH_RADIUS_M, FloatArray

_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0
_INRADIUS_MARGIN = 0.95
_MIN_SKIP_RESOLUTION = 6
"""Coarser cells are too large for the flat-Earth in-circle test to be trusted."""


@dataclass(frozen=True, slots=True)
class CellVisit:
    """One stay in one cell.

    ``offset_s``: entry time in seconds after the ride's reference time.
    ``speed_mps``: mean of the fixes' window speeds while in the cell.
    ``filled``: no fix fell in the cell; it was inferred by ``grid_path_cells``
    to keep the path connected, with offset and speed interpolated.
    """

    cell: str
    offset_s: float
    speed_mps: float
    filled: bool = False


@lru_cache(maxsize=1 << 16)
def cell_centre(cell: str) -> tuple[float, float]:
    """``(lat, lon)`` of a cell's centre (cached: rides revisit the same streets)."""
    lat, lng = h3.cell_to_latlng(cell)
    return float(lat), float(lng)


@lru_cache(maxsize=1 << 16)
def _safe_radius2_m2(cell: str) -> float:
    """Squared radius around the centre that is certainly inside ``cell`` (local metres)."""
    if h3.get_resolution(cell) < _MIN_SKIP_RESOLUTION:
        return -1.0
    clat, clon = cell_centre(cell)
    kx = math.cos(math.radians(clat)) * _M_PER_DEG
    verts = [((lng - clon) * kx, (lat - clat) * _M_PER_DEG) for lat, lng in h3.cell_to_boundary(cell)]
    best = math.inf
    for (x1, y1), (x2, y2) in zip(verts, verts[1:] + verts[:1], strict=True):
        length = math.hypot(x2 - x1, y2 - y1)
        if length > 0:
            best = min(best, abs(x1 * y2 - x2 * y1) / length)
    return (best * _INRADIUS_MARGIN) ** 2


@lru_cache(maxsize=1 << 16)
def _skip_disc(cell: int) -> tuple[float, float, float, float, str]:
    """``(centre lat, centre lon, metres per degree of lon, safe radius², id)`` of a cell given as an int."""
    name = h3.int_to_str(cell)
    clat, clon = cell_centre(name)
    return clat, clon, math.cos(math.radians(clat)) * _M_PER_DEG, _safe_radius2_m2(name), name


def snap_segment(
    lat: FloatArray, lon: FloatArray, t: FloatArray, speed_mps: FloatArray, *, resolution: int, t_ref: float
) -> list[CellVisit]:
    """Snap one continuous run of fixes, collapsing consecutive fixes in the same cell.

    The result may still jump between non-adjacent cells; :func:`connect` fills
    those gaps.
    """
    n = int(lat.shape[0])
    if n == 0:
        return []
    to_cell = h3int.latlng_to_cell  # ints: the str form is only needed once per visit
    starts: list[int] = []  # index of the first fix in each visited cell
    names: list[str] = []
    cur = 0
    clat = clon = kx = 0.0
    r2 = -1.0
    for i, (la, lo) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True)):
        dy = (la - clat) * _M_PER_DEG
        dx = (lo - clon) * kx
        if dx * dx + dy * dy < r2:
            continue
        cell = to_cell(la, lo, resolution)
        if cell == cur:
            continue
        cur = cell
        clat, clon, kx, r2, name = _skip_disc(cell)
        starts.append(i)
        names.append(name)
    first = np.array(starts)
    stops = np.append(first[1:], n)
    cum_speed = np.concatenate(([0.0], np.cumsum(speed_mps)))
    means = (cum_speed[stops] - cum_speed[first]) / (stops - first)
    offsets = t[first] - t_ref
    return [
        CellVisit(name, offset, mean)
        for name, offset, mean in zip(names, offsets.tolist(), means.tolist(), strict=True)
    ]


def connect(visits: Sequence[CellVisit], *, max_fill_cells: int = 10) -> list[list[CellVisit]]:
    """Make each run a connected path: fill gaps with ``grid_path_cells``, or split.

    Between two consecutive visits of non-neighbouring cells the shortest grid
    path is inserted, with offsets and speeds interpolated linearly. A gap
    needing more than ``max_fill_cells`` cells (~1.3 km at res 10 for the
    default; a straight line that long is a guess, not a path), or one h3 cannot
    path (across a pentagon), splits the run instead.
    """
    if not visits:
        return []
    runs: list[list[CellVisit]] = [[visits[0]]]
    for prev, nxt in itertools.pairwise(visits):
        if h3.are_neighbor_cells(prev.cell, nxt.cell):
            runs[-1].append(nxt)
            continue
        try:
            path = h3.grid_path_cells(prev.cell, nxt.cell)
        except h3.H3BaseException:
            path = []
        middle = list(path)[1:-1]
        if not path or len(middle) > max_fill_cells:
            runs.append([nxt])
            continue
        steps = len(middle) + 1
        for k, cell in enumerate(middle, start=1):
            f = k / steps
            runs[-1].append(
                CellVisit(
                    cell,
                    prev.offset_s + f * (nxt.offset_s - prev.offset_s),
                    prev.speed_mps + f * (nxt.speed_mps - prev.speed_mps),
                    filled=True,
                )
            )
        runs[-1].append(nxt)
    return runs


def drop_cells(runs: Sequence[Sequence[CellVisit]], doomed: set[str]) -> list[list[CellVisit]]:
    """Remove the visits of ``doomed`` cells, splitting runs where they were."""
    out: list[list[CellVisit]] = []
    for run in runs:
        current: list[CellVisit] = []
        for visit in run:
            if visit.cell in doomed:
                if current:
                    out.append(current)
                current = []
            else:
                current.append(visit)
        if current:
            out.append(current)
    return out


def shift_offsets(runs: Sequence[Sequence[CellVisit]], delta_s: float) -> list[list[CellVisit]]:
    """Re-express offsets against a reference time ``delta_s`` earlier."""
    return [[replace(v, offset_s=v.offset_s + delta_s) for v in run] for run in runs]


def transitions(run: Sequence[CellVisit]) -> list[tuple[str, str]]:
    """Ordered pairs of consecutive cells of one connected run (neighbours after :func:`connect`)."""
    return [(a.cell, b.cell) for a, b in itertools.pairwise(run)]


def cell_path_linestring(cells: Sequence[str]) -> dict[str, Any]:
    """GeoJSON LineString through the cell centres, positions as ``[lon, lat]`` (RFC 7946).

    A one-cell path gives a line with two equal positions (a LineString needs two).
    """
    if not cells:
        raise ValueError("a cell path needs at least one cell")
    coords = [[round(lon, 7), round(lat, 7)] for lat, lon in (cell_centre(c) for c in cells)]
    if len(coords) == 1:
        coords.append(list(coords[0]))
    return {"type": "LineString", "coordinates": coords}


def cell_path_geometry(runs: Sequence[Sequence[str]]) -> dict[str, Any] | None:
    """One LineString for one run, a MultiLineString for several, ``None`` for none."""
    lines = [cell_path_linestring(run)["coordinates"] for run in runs if run]
    if not lines:
        return None
    if len(lines) == 1:
        return {"type": "LineString", "coordinates": lines[0]}
    return {"type": "MultiLineString", "coordinates": lines}
