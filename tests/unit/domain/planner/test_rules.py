"""What may leave the system: bbox rules, coarser cells, contributor unions and the k threshold."""

from __future__ import annotations

from datetime import UTC, datetime

import h3
import pytest

from domain.danger.rules import HazardInput
from domain.hazards.rules import HazardStatus
from domain.planner.rules import (
    CellRow,
    FlowRow,
    HeatmapMetric,
    aggregate_cells,
    aggregate_flows,
    flow_rows,
    heatmap_rows,
    k_anonymous,
)
from geo.cells import BBox, bbox_cells, cell_in_bbox, check_resolution, parse_bbox
from geo.errors import FieldError

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MECHELEN = h3.latlng_to_cell(51.03, 4.48, 10)
MECHELEN_BBOX = "4.40,50.98,4.56,51.08"


def people(*keys: int) -> frozenset[str]:
    return frozenset(f"user-{k}" for k in keys)


# --- bbox and resolution ---------------------------------------------------------------------------------


def test_a_city_bbox_parses_in_lon_lat_order() -> None:
    assert parse_bbox(MECHELEN_BBOX) == BBox(4.40, 50.98, 4.56, 51.08)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "4.4,50.9,4.5",
        "4.4,50.9,4.5,51.0,3",
        "a,50.9,4.5,51.0",
        "nan,50.9,4.5,51.0",
        "4.4,50.9,inf,51.0",
        "4.5,50.9,4.4,51.0",  # west > east: would cross the antimeridian
        "4.4,51.0,4.5,51.0",  # empty
        "4.4,-91,4.5,51.0",
        "-181,50.9,4.5,51.0",
        "2.5,49.5,6.4,51.5",  # all of Belgium: too large for one export
    ],
)
def test_bad_or_too_large_bboxes_are_refused_naming_the_field(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_bbox(text)
    assert caught.value.field == "bbox"


def test_the_area_limit_is_a_parameter() -> None:
    with pytest.raises(FieldError, match="km²"):
        parse_bbox(MECHELEN_BBOX, max_area_km2=10)
    area = parse_bbox(MECHELEN_BBOX).area_km2()
    assert 100 < area < 130  # 0.16° x 0.10° at 51° N ≈ 11.2 km x 11.1 km


@pytest.mark.parametrize("res", [7, 8, 9, 10])
def test_resolutions_seven_to_ten_are_accepted(res: int) -> None:
    assert check_resolution(res) == res


@pytest.mark.parametrize("res", [6, 11, True])
def test_other_resolutions_are_refused(res: int) -> None:
    with pytest.raises(FieldError) as caught:
        check_resolution(res)
    assert caught.value.field == "res"


def test_bbox_cells_are_the_cells_whose_centre_is_inside() -> None:
    box = parse_bbox(MECHELEN_BBOX)
    cells = bbox_cells(box, 9)
    assert h3.cell_to_parent(MECHELEN, 9) in cells
    assert all(cell_in_bbox(c, box) for c in cells)
    ring = set(h3.grid_disk(next(iter(cells)), 60)) - cells
    assert not any(cell_in_bbox(c, box) for c in ring)


# --- cell aggregation -------------------------------------------------------------------------------------


def test_a_parent_unions_contributors_and_sums_rides() -> None:
    children = sorted(h3.cell_to_children(h3.cell_to_parent(MECHELEN, 9), 10))
    rows = [
        CellRow(children[0], rides=40, near_misses=1, contributors=people(1, 2, 3)),
        CellRow(children[1], rides=30, near_misses=2, contributors=people(2, 3, 4)),
        CellRow(children[2], rides=10, contributors=people(1)),
    ]
    (parent,) = aggregate_cells(rows, 9)
    assert parent.cell == h3.cell_to_parent(MECHELEN, 9)
    assert parent.rides == 80
    assert parent.near_misses == 3
    assert parent.contributors == people(1, 2, 3, 4)
    assert parent.contributor_count == 4  # not 3 + 3 + 1


@pytest.mark.parametrize("res", [7, 8, 9])
def test_aggregation_reaches_each_coarser_resolution(res: int) -> None:
    rows = [CellRow(c, rides=1, contributors=people(i % 7)) for i, c in enumerate(h3.grid_disk(MECHELEN, 20))]
    parents = aggregate_cells(rows, res)
    assert {p.cell for p in parents} == {h3.cell_to_parent(r.cell, res) for r in rows}
    assert all(h3.get_resolution(p.cell) == res for p in parents)
    assert sum(p.rides for p in parents) == len(rows)
    assert [p.cell for p in parents] == sorted(p.cell for p in parents)


def test_aggregation_pools_hazards_for_the_danger_metric() -> None:
    a, b = sorted(h3.cell_to_children(h3.cell_to_parent(MECHELEN, 9), 10))[:2]
    open_ = HazardInput(3, 4, 0, 2, HazardStatus.OPEN, NOW)
    resolved = HazardInput(3, 4, 0, 2, HazardStatus.RESOLVED, NOW)
    rows = [CellRow(a, 50, 0, people(*range(5)), (open_,)), CellRow(b, 50, 0, people(9), (resolved,))]
    ((_, props),) = heatmap_rows(aggregate_cells(rows, 9), metric=HeatmapMetric.DANGER, k=5, now=NOW)
    assert props["hazards"] == 1
    assert props["contributors"] == 6
    assert props["rides"] == 100


def test_rows_at_the_target_resolution_pass_and_duplicates_merge() -> None:
    rows = [CellRow(MECHELEN, 2, 0, people(1)), CellRow(MECHELEN, 3, 0, people(1, 2))]
    assert aggregate_cells(rows, 10) == [CellRow(MECHELEN, 5, 0, people(1, 2))]


def test_coarse_rows_cannot_be_split_into_finer_cells() -> None:
    with pytest.raises(ValueError, match="cannot be split"):
        aggregate_cells([CellRow(h3.cell_to_parent(MECHELEN, 8))], 10)


# --- k-anonymity ------------------------------------------------------------------------------------------


def test_a_cell_with_k_minus_one_contributors_is_absent_however_many_rides() -> None:
    busy_but_few = CellRow(MECHELEN, rides=10_000, near_misses=50, contributors=people(1, 2, 3, 4))
    enough = CellRow(h3.grid_ring(MECHELEN, 1)[0], rides=5, contributors=people(1, 2, 3, 4, 5))
    for metric in HeatmapMetric:
        out = list(heatmap_rows([busy_but_few, enough], metric=metric, k=5, now=NOW))
        assert [cell for cell, _ in out] == [enough.cell]


def test_children_below_k_can_make_a_parent_at_k() -> None:
    children = sorted(h3.cell_to_children(h3.cell_to_parent(MECHELEN, 9), 10))
    rows = [CellRow(c, 1, 0, people(i)) for i, c in enumerate(children[:5])]
    assert list(k_anonymous(rows, 5)) == []
    assert len(list(k_anonymous(aggregate_cells(rows, 9), 5))) == 1


def test_the_same_people_in_many_children_stay_below_k() -> None:
    children = sorted(h3.cell_to_children(h3.cell_to_parent(MECHELEN, 8), 10))
    rows = [CellRow(c, 100, 0, people(1, 2, 3, 4)) for c in children]
    assert list(k_anonymous(aggregate_cells(rows, 8), 5)) == []


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must"):
        list(k_anonymous([], 0))


def test_exported_properties_carry_counts_not_contributor_keys() -> None:
    row = CellRow(MECHELEN, 7, 1, people(*range(6)))
    for metric in HeatmapMetric:
        ((_, props),) = heatmap_rows([row], metric=metric, k=5, now=NOW)
        assert all(isinstance(v, int | float) for v in props.values())
        assert "user-1" not in repr(props)


# --- flows -----------------------------------------------------------------------------------------------


def test_flows_inside_one_parent_vanish_and_crossing_ones_merge() -> None:
    parent = h3.cell_to_parent(MECHELEN, 9)
    inside = [c for c in h3.grid_ring(MECHELEN, 1) if h3.cell_to_parent(c, 9) == parent]
    outside = [c for c in h3.grid_ring(MECHELEN, 1) if h3.cell_to_parent(c, 9) != parent]
    assert inside and outside
    other = h3.cell_to_parent(outside[0], 9)
    rows = [
        FlowRow(MECHELEN, inside[0], 30, people(1, 2)),
        FlowRow(MECHELEN, outside[0], 4, people(1, 2, 3)),
        FlowRow(inside[0], outside[0], 6, people(3, 4, 5)),
        FlowRow(outside[0], MECHELEN, 2, people(9)),
    ]
    flows = aggregate_flows(rows, 9)
    assert [(f.src, f.dst, f.count, f.contributors) for f in flows] == sorted(
        [(parent, other, 10, people(1, 2, 3, 4, 5)), (other, parent, 2, people(9))]
    )
    assert [(s, d) for s, d, _ in flow_rows(flows, k=5)] == [(parent, other)]


@pytest.mark.parametrize("res", [7, 8, 9])
def test_parents_of_adjacent_cells_are_adjacent_around_mechelen(res: int) -> None:
    rows = [FlowRow(c, n, 1) for c in h3.grid_disk(MECHELEN, 25) for n in h3.grid_ring(c, 1)]
    for flow in aggregate_flows(rows, res):
        assert h3.are_neighbor_cells(flow.src, flow.dst)
