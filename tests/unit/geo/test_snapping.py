"""Snapping gives connected cell paths, in h3's truth, and GeoJSON in [lon, lat]."""

from __future__ import annotations

import itertools
import random

import h3
import numpy as np
import pytest

from geo.classify import window_speeds_mps
from geo.cleaning import clean
from geo.points import Columns, TracePoint
from geo.simulator import simulate_ride
from geo.snapping import (
    CellVisit,
    cell_path_geometry,
    cell_path_linestring,
    connect,
    drop_cells,
    snap_segment,
    transitions,
)


def snap(cols: Columns, resolution: int = 10) -> list[CellVisit]:
    speeds = window_speeds_mps(cols)
    return snap_segment(cols.lat, cols.lon, cols.t, speeds, resolution=resolution, t_ref=float(cols.t[0]))


def ride_columns(seed: int, mode: str = "bike") -> Columns:
    return clean(Columns.from_points(simulate_ride(random.Random(seed), mode=mode).points)).points  # type: ignore[arg-type]


@pytest.mark.parametrize("resolution", [7, 9, 10, 11, 12])
def test_skipping_h3_inside_a_cell_gives_the_same_cells_as_asking_h3_every_time(resolution: int) -> None:
    cols = ride_columns(1)
    expected = [
        k
        for k, _ in itertools.groupby(
            h3.latlng_to_cell(a, b, resolution) for a, b in zip(cols.lat, cols.lon, strict=True)
        )
    ]
    assert [v.cell for v in snap(cols, resolution)] == expected


@pytest.mark.parametrize(("lat", "lon"), [(0.0, 0.0), (64.1, -21.9), (-33.9, 151.2), (78.2, 15.6)])
def test_skipping_is_exact_far_from_belgium_too(lat: float, lon: float) -> None:
    rng = random.Random(5)
    pts = [
        TracePoint(lat + rng.uniform(-0.01, 0.01), lon + rng.uniform(-0.01, 0.01), float(i))
        for i in range(2000)
    ]
    pts.sort(key=lambda p: (round(p.lat, 3), p.lon))
    pts = [TracePoint(p.lat, p.lon, float(i)) for i, p in enumerate(pts)]
    cols = Columns.from_points(pts)
    expected = [k for k, _ in itertools.groupby(h3.latlng_to_cell(p.lat, p.lon, 10) for p in pts)]
    assert [v.cell for v in snap(cols)] == expected


def test_visits_carry_entry_offset_and_mean_speed() -> None:
    cols = ride_columns(2)
    visits = snap(cols)
    assert visits[0].offset_s == 0.0
    offsets = [v.offset_s for v in visits]
    assert offsets == sorted(offsets)
    assert all(0.0 <= v.speed_mps < 15 for v in visits)


@pytest.mark.parametrize("seed", range(4))
def test_connected_runs_are_chains_of_neighbouring_cells(seed: int) -> None:
    cols = ride_columns(seed, "car")
    # thin out to one fix in 10 so that consecutive fixes skip cells
    thin = cols.take(np.arange(0, len(cols), 10))
    raw = snap(thin)
    assert any(not h3.are_neighbor_cells(a.cell, b.cell) for a, b in itertools.pairwise(raw))
    runs = connect(raw)
    assert runs
    for run in runs:
        assert all(h3.are_neighbor_cells(a, b) for a, b in transitions(run))


def test_filled_cells_have_interpolated_offsets_and_speeds() -> None:
    a = h3.latlng_to_cell(51.03, 4.48, 10)
    b = next(c for c in h3.grid_ring(a, 3))
    [run] = connect([CellVisit(a, 0.0, 2.0), CellVisit(b, 30.0, 8.0)])
    assert [v.cell for v in run] == list(h3.grid_path_cells(a, b))
    assert [v.filled for v in run] == [False, True, True, False]
    assert [v.offset_s for v in run] == [0.0, 10.0, 20.0, 30.0]
    assert [v.speed_mps for v in run] == [2.0, 4.0, 6.0, 8.0]


def test_too_long_a_gap_splits_instead_of_inventing_a_path() -> None:
    a = h3.latlng_to_cell(51.03, 4.48, 10)
    b = next(c for c in h3.grid_ring(a, 30))
    runs = connect([CellVisit(a, 0.0, 5.0), CellVisit(b, 600.0, 5.0)], max_fill_cells=10)
    assert [[v.cell for v in r] for r in runs] == [[a], [b]]


def test_transitions_are_ordered_consecutive_pairs() -> None:
    cells = ["a", "b", "c"]
    assert transitions([CellVisit(c, 0.0, 0.0) for c in cells]) == [("a", "b"), ("b", "c")]


def test_dropping_cells_splits_the_run_there() -> None:
    run = [CellVisit(c, 0.0, 0.0) for c in "abcde"]
    assert [[v.cell for v in r] for r in drop_cells([run], {"c", "e"})] == [["a", "b"], ["d"]]


def test_geojson_positions_are_lon_then_lat() -> None:
    cell = h3.latlng_to_cell(51.03, 4.48, 10)
    other = next(iter(h3.grid_ring(cell, 1)))
    line = cell_path_linestring([cell, other])
    lat, lng = h3.cell_to_latlng(cell)
    lon0, lat0 = line["coordinates"][0]
    assert line["type"] == "LineString"
    assert lon0 == pytest.approx(lng, abs=1e-6)
    assert lat0 == pytest.approx(lat, abs=1e-6)
    assert 4 < lon0 < 5
    assert 51 < lat0 < 52


def test_one_cell_path_is_a_two_position_line() -> None:
    cell = h3.latlng_to_cell(51.03, 4.48, 10)
    coords = cell_path_linestring([cell])["coordinates"]
    assert len(coords) == 2
    assert coords[0] == coords[1]


def test_geometry_of_several_runs_is_a_multilinestring_and_of_none_is_none() -> None:
    cell = h3.latlng_to_cell(51.03, 4.48, 10)
    ring = list(h3.grid_ring(cell, 1))
    geometry = cell_path_geometry([[cell, ring[0]], [ring[2], ring[3]]])
    assert geometry is not None
    assert geometry["type"] == "MultiLineString"
    assert len(geometry["coordinates"]) == 2
    assert cell_path_geometry([]) is None


@pytest.mark.parametrize(
    ("seed", "mode", "resolution"), [(3, "walk", 10), (4, "bike", 10), (5, "car", 9), (6, "bike", 5)]
)
def test_visits_match_a_fix_by_fix_reference(seed: int, mode: str, resolution: int) -> None:
    cols = ride_columns(seed, mode)
    speeds = window_speeds_mps(cols)
    t_ref = float(cols.t[0]) - 17.0
    expected = []
    i = 0
    for cell, group in itertools.groupby(
        h3.latlng_to_cell(a, b, resolution) for a, b in zip(cols.lat.tolist(), cols.lon.tolist(), strict=True)
    ):
        j = i + len(list(group))
        cum = np.cumsum(speeds).tolist()
        mean = (cum[j - 1] - (cum[i - 1] if i else 0.0)) / (j - i)
        expected.append(CellVisit(cell, float(cols.t[i]) - t_ref, mean))
        i = j
    got = snap_segment(cols.lat, cols.lon, cols.t, speeds, resolution=resolution, t_ref=t_ref)
    assert got == expected
