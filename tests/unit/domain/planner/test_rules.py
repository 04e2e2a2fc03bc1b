"""What a planner export shows: bbox and window rules, and its rows as post-processing of a release."""

from __future__ import annotations

from datetime import UTC, date, datetime

import h3
import pytest

from domain.core.errors import InvalidInput
from domain.danger.rules import HazardInput
from domain.hazards.rules import HazardStatus
from domain.planner.rules import (
    ExportKind,
    ExportQuery,
    build_query,
    flow_rows,
    heatmap_rows,
)
from geo.cells import BBox, bbox_cells, cell_in_bbox, check_resolution, parse_bbox
from geo.errors import FieldError
from privacy.release.mechanism import Released
from privacy.release.rules import WindowNotClosed

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MECHELEN = h3.latlng_to_cell(51.03, 4.48, 10)
MECHELEN_BBOX = "4.40,50.98,4.56,51.08"


TODAY = date(2026, 6, 10)
RELEASE_RES = 8
PARENT = h3.cell_to_parent(MECHELEN, RELEASE_RES)
HAZARD = HazardInput(3, 4, 0, 2, HazardStatus.OPEN, NOW)


def released(*cells: tuple[str, int, int]) -> dict[int, Released]:
    return {h3.str_to_int(c): Released(people, passes) for c, people, passes in cells}


def query(
    metric: str = "danger", res: int = RELEASE_RES, kind: ExportKind = ExportKind.HEATMAP
) -> ExportQuery:
    return build_query(kind, today=TODAY, metric=metric, resolution=res)


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


# --- the window of an export ----------------------------------------------------------------------------


def test_without_from_and_to_an_export_shows_the_last_whole_month() -> None:
    window = query().window
    assert (window.first, window.last) == (date(2026, 5, 1), date(2026, 5, 31))


def test_a_window_that_includes_today_is_refused() -> None:
    with pytest.raises(WindowNotClosed) as caught:
        build_query(
            ExportKind.HEATMAP,
            today=TODAY,
            since=datetime(2026, 6, 1, tzinfo=UTC),
            until=datetime(2026, 6, 10, tzinfo=UTC),
        )
    assert caught.value.field == "to"


@pytest.mark.parametrize("missing", ["from", "to"])
def test_from_and_to_come_together(missing: str) -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)
    since, until = (None, moment) if missing == "from" else (moment, None)
    with pytest.raises(InvalidInput) as caught:
        build_query(ExportKind.HEATMAP, today=TODAY, since=since, until=until)
    assert caught.value.field == missing


def test_a_window_longer_than_400_days_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_query(
            ExportKind.HEATMAP,
            today=TODAY,
            since=datetime(2025, 1, 1, tzinfo=UTC),
            until=datetime(2026, 5, 1, tzinfo=UTC),
        )
    assert caught.value.field == "to"


@pytest.mark.parametrize(("kind", "metric"), [(ExportKind.FLOWS, "danger"), (ExportKind.HEATMAP, "exposure")])
def test_figures_of_people_finer_than_the_release_are_refused(kind: ExportKind, metric: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        query(metric, res=10, kind=kind).check_release_resolution(RELEASE_RES)
    assert caught.value.field == "res"


@pytest.mark.parametrize("metric", ["danger", "hazards"])
def test_danger_and_hazard_maps_may_be_finer_than_the_release(metric: str) -> None:
    query(metric, res=10).check_release_resolution(RELEASE_RES)


# --- rows from a release ---------------------------------------------------------------------------------


def test_at_the_release_resolution_the_released_figures_are_shown_as_they_are() -> None:
    rows = dict(heatmap_rows(query("exposure"), released((PARENT, 120, 900)), RELEASE_RES, {}, NOW))
    assert rows == {PARENT: {"rides": 900, "nearMisses": 0, "contributors": 120}}


def test_a_coarser_cell_is_the_sum_of_its_released_children_so_subtracting_reveals_nothing() -> None:
    children = sorted(h3.cell_to_children(h3.cell_to_parent(PARENT, 7), RELEASE_RES))[:3]
    release = released(*((c, 100 + i, 500 + i) for i, c in enumerate(children)))
    parent = dict(heatmap_rows(query("exposure", res=7), release, RELEASE_RES, {}, NOW))
    child = dict(heatmap_rows(query("exposure"), release, RELEASE_RES, {}, NOW))
    ((_, props),) = parent.items()
    assert props["contributors"] == sum(child[c]["contributors"] for c in children)  # type: ignore[misc]
    assert props["rides"] == sum(child[c]["rides"] for c in children)  # type: ignore[misc]


def test_a_finer_danger_map_shows_hazard_cells_with_a_share_of_the_released_exposure() -> None:
    hazard_cell = MECHELEN
    rows = dict(
        heatmap_rows(query(res=10), released((PARENT, 98, 4900)), RELEASE_RES, {hazard_cell: [HAZARD]}, NOW)
    )
    assert list(rows) == [hazard_cell]
    assert rows[hazard_cell]["rides"] == 100  # 4900 passes over 49 children
    assert rows[hazard_cell]["contributors"] == 2
    assert rows[hazard_cell]["danger"] > 0  # type: ignore[operator]


def test_a_danger_map_shows_public_hazards_where_the_release_shows_nobody() -> None:
    elsewhere = h3.cell_to_parent(h3.latlng_to_cell(51.0, 4.3, 10), RELEASE_RES)
    rows = dict(heatmap_rows(query(), released((PARENT, 98, 4900)), RELEASE_RES, {elsewhere: [HAZARD]}, NOW))
    assert set(rows) == {PARENT, elsewhere}
    assert rows[elsewhere]["rides"] == 0 and rows[elsewhere]["hazards"] == 1


def test_a_hazard_map_reads_no_release() -> None:
    rows = list(
        heatmap_rows(query("hazards"), released((PARENT, 98, 4900)), RELEASE_RES, {PARENT: [HAZARD]}, NOW)
    )
    assert rows == [
        (PARENT, {"hazards": 1, "maxSeverity": 3, "reports": 2, "confirmations": 4, "disputes": 0})
    ]


def test_the_bbox_filters_shown_cells() -> None:
    far = h3.cell_to_parent(h3.latlng_to_cell(50.85, 4.35, 10), RELEASE_RES)  # Brussels
    box = query("exposure")
    boxed = ExportQuery(
        box.kind, box.metric, box.resolution, parse_bbox(MECHELEN_BBOX), box.window, box.format
    )
    rows = dict(heatmap_rows(boxed, released((PARENT, 90, 900), (far, 90, 900)), RELEASE_RES, {}, NOW))
    assert list(rows) == [PARENT]


def test_flows_sum_to_coarser_cells_and_vanish_inside_one() -> None:
    a, b = sorted(h3.grid_ring(PARENT, 1))[:2]
    inside_a, inside_b = h3.cell_to_center_child(a, RELEASE_RES), h3.cell_to_center_child(b, RELEASE_RES)
    flows = {
        (h3.str_to_int(PARENT), h3.str_to_int(inside_a)): Released(90, 400),
        (h3.str_to_int(PARENT), h3.str_to_int(inside_b)): Released(80, 300),
    }
    same = list(flow_rows(query(kind=ExportKind.FLOWS), flows))
    assert [(s, d) for s, d, _ in same] == sorted([(PARENT, a), (PARENT, b)])
    coarse = query(kind=ExportKind.FLOWS, res=7)
    merged = list(flow_rows(coarse, flows))
    assert all(s != d for s, d, _ in merged)
    assert sum(p["count"] for _, _, p in merged) <= 700  # type: ignore[misc]
