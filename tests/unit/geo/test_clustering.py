from __future__ import annotations

import math
import uuid

import h3
import pytest

from geo.clustering import (
    DEFAULT_MAX_JOIN_DISTANCE_M,
    DEFAULT_RESOLUTION,
    HazardCandidate,
    InvalidPoint,
    cluster_report,
    distance_m,
    report_cell,
    search_cells,
)

POTHOLE = "road_surface"
CROSSING = "dangerous_crossing"

# Mechelen, Grote Markt: a res-10 cell in the pilot city.
CENTRE_CELL = h3.latlng_to_cell(51.0281, 4.4806, DEFAULT_RESOLUTION)
CLAT, CLON = h3.cell_to_latlng(CENTRE_CELL)


def offset(lat: float, lon: float, *, north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    return (lat + north_m / 111_320, lon + east_m / (111_320 * math.cos(math.radians(lat))))


def metres_to_east_edge() -> int:
    """Whole metres east of the centre cell's centre at which the next cell begins."""
    for m in range(1, 200):
        if report_cell(*offset(CLAT, CLON, east_m=m)) != CENTRE_CELL:
            return m
    raise AssertionError("no edge within 200 m")


EDGE_M = metres_to_east_edge()


def across_edge(before_m: float, after_m: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Two points on either side of the centre cell's east edge, in the centre cell and its neighbour."""
    inside = offset(CLAT, CLON, east_m=EDGE_M - 1 - before_m)
    outside = offset(CLAT, CLON, east_m=EDGE_M + after_m)
    assert report_cell(*inside) == CENTRE_CELL
    assert report_cell(*outside) in search_cells(CENTRE_CELL) - {CENTRE_CELL}
    return inside, outside


def candidate_at(point: tuple[float, float], category: str = POTHOLE) -> HazardCandidate:
    return HazardCandidate(
        hazard_id=uuid.uuid4(), category=category, cell=report_cell(*point), lat=point[0], lon=point[1]
    )


# --- snapping -----------------------------------------------------------------------------------------


def test_report_cell_takes_lat_then_lon_and_snaps_at_resolution_10() -> None:
    cell = report_cell(51.0281, 4.4806)
    assert h3.get_resolution(cell) == 10
    centre_lat, centre_lon = h3.cell_to_latlng(cell)
    assert abs(centre_lat - 51.0281) < 0.002
    assert abs(centre_lon - 4.4806) < 0.002


def test_search_cells_are_the_cell_and_its_six_neighbours() -> None:
    cells = search_cells(CENTRE_CELL)
    assert CENTRE_CELL in cells
    assert len(cells) == 7
    assert all(h3.grid_distance(CENTRE_CELL, c) <= 1 for c in cells)


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [(91.0, 4.0, "lat"), (51.0, 181.0, "lon"), (math.nan, 4.0, "lat"), (51.0, math.inf, "lon")],
)
def test_a_point_outside_wgs84_is_refused_naming_the_field_not_the_value(
    lat: float, lon: float, field: str
) -> None:
    with pytest.raises(InvalidPoint) as caught:
        report_cell(lat, lon)
    assert caught.value.field == field
    assert str(lat) not in str(caught.value)
    assert str(lon) not in str(caught.value)


def test_candidate_without_a_point_falls_back_to_its_cell_centre_as_lat_lon() -> None:
    candidate = HazardCandidate(hazard_id=uuid.uuid4(), category=POTHOLE, cell=CENTRE_CELL)
    assert candidate.point() == pytest.approx((CLAT, CLON))


# --- clustering ---------------------------------------------------------------------------------------


def test_first_report_starts_a_new_hazard_in_its_cell() -> None:
    decision = cluster_report(CLAT, CLON, POTHOLE, [])
    assert decision.hazard_id is None
    assert decision.cell == CENTRE_CELL


def test_two_nearby_reports_make_one_hazard() -> None:
    first = (CLAT, CLON)
    assert cluster_report(*first, POTHOLE, []).hazard_id is None
    existing = candidate_at(first)

    second = offset(CLAT, CLON, north_m=5, east_m=3)
    decision = cluster_report(*second, POTHOLE, [existing])

    assert decision.hazard_id == existing.hazard_id
    assert decision.same_cell
    assert decision.distance_m == pytest.approx(5.8, abs=0.5)


def test_a_far_report_makes_a_second_hazard() -> None:
    existing = candidate_at((CLAT, CLON))
    far = offset(CLAT, CLON, north_m=500)
    decision = cluster_report(*far, POTHOLE, [existing])
    assert decision.hazard_id is None
    assert decision.cell != CENTRE_CELL


def test_same_cell_joins_whatever_the_distance_inside_the_cell() -> None:
    existing = candidate_at((CLAT, CLON))
    inside, _ = across_edge(before_m=0, after_m=1)
    assert distance_m(inside, (CLAT, CLON)) > DEFAULT_MAX_JOIN_DISTANCE_M
    assert cluster_report(*inside, POTHOLE, [existing]).hazard_id == existing.hazard_id


def test_report_joins_a_neighbour_cell_hazard_within_the_distance() -> None:
    inside, outside = across_edge(before_m=4, after_m=4)
    existing = candidate_at(inside)

    decision = cluster_report(*outside, POTHOLE, [existing])

    assert decision.hazard_id == existing.hazard_id
    assert not decision.same_cell
    assert decision.cell != existing.cell
    assert decision.distance_m is not None
    assert decision.distance_m <= DEFAULT_MAX_JOIN_DISTANCE_M


def test_report_does_not_join_a_neighbour_cell_hazard_beyond_the_distance() -> None:
    inside, outside = across_edge(before_m=15, after_m=20)
    assert distance_m(inside, outside) > DEFAULT_MAX_JOIN_DISTANCE_M
    decision = cluster_report(*outside, POTHOLE, [candidate_at(inside)])
    assert decision.hazard_id is None


def test_max_distance_is_a_parameter() -> None:
    inside, outside = across_edge(before_m=15, after_m=20)
    decision = cluster_report(*outside, POTHOLE, [candidate_at(inside)], max_distance_m=50)
    assert decision.hazard_id is not None


def test_neighbour_known_only_by_its_cell_centre_is_too_far_to_join() -> None:
    _, outside = across_edge(before_m=0, after_m=0)
    centre_only = HazardCandidate(hazard_id=uuid.uuid4(), category=POTHOLE, cell=CENTRE_CELL)
    assert cluster_report(*outside, POTHOLE, [centre_only]).hazard_id is None


@pytest.mark.parametrize("where", ["same cell", "neighbour cell"])
def test_a_different_category_never_joins(where: str) -> None:
    inside, outside = across_edge(before_m=2, after_m=2)
    other = candidate_at(inside, category=CROSSING)
    report = inside if where == "same cell" else outside
    assert cluster_report(*report, POTHOLE, [other]).hazard_id is None


def test_category_match_is_found_among_other_categories() -> None:
    point = (CLAT, CLON)
    crossing, pothole = candidate_at(point, CROSSING), candidate_at(point, POTHOLE)
    assert cluster_report(*point, POTHOLE, [crossing, pothole]).hazard_id == pothole.hazard_id
    assert cluster_report(*point, CROSSING, [crossing, pothole]).hazard_id == crossing.hazard_id


def test_same_cell_hazard_wins_over_a_closer_neighbour_cell_hazard() -> None:
    inside, outside = across_edge(before_m=1, after_m=1)
    in_cell = candidate_at((CLAT, CLON))
    next_door = candidate_at(outside)
    decision = cluster_report(*inside, POTHOLE, [next_door, in_cell])
    assert decision.hazard_id == in_cell.hazard_id
    assert decision.same_cell


def test_the_nearest_of_several_neighbour_hazards_is_joined() -> None:
    inside, outside = across_edge(before_m=2, after_m=2)
    near = candidate_at(inside)
    farther = candidate_at(offset(*inside, east_m=-10))
    assert cluster_report(*outside, POTHOLE, [farther, near]).hazard_id == near.hazard_id


def test_candidate_outside_the_ring_one_disk_is_ignored() -> None:
    far_cell = h3.latlng_to_cell(*offset(CLAT, CLON, north_m=1000), DEFAULT_RESOLUTION)
    mislabelled = HazardCandidate(hazard_id=uuid.uuid4(), category=POTHOLE, cell=far_cell, lat=CLAT, lon=CLON)
    assert cluster_report(CLAT, CLON, POTHOLE, [mislabelled]).hazard_id is None


def test_ties_are_broken_by_id_so_the_answer_is_stable() -> None:
    ids = sorted((uuid.uuid4() for _ in range(3)), key=str)
    same = [HazardCandidate(hazard_id=i, category=POTHOLE, cell=CENTRE_CELL, lat=CLAT, lon=CLON) for i in ids]
    assert cluster_report(CLAT, CLON, POTHOLE, same).hazard_id == ids[0]
    assert cluster_report(CLAT, CLON, POTHOLE, list(reversed(same))).hazard_id == ids[0]


def test_distance_is_in_metres_between_lat_lon_pairs() -> None:
    assert distance_m((CLAT, CLON), offset(CLAT, CLON, north_m=100)) == pytest.approx(100, rel=0.01)
