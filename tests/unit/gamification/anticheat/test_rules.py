from __future__ import annotations

import dataclasses
import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta

import h3

from domain.rides.rules import ProcessedRide
from gamification.anticheat.rules import (
    FLAG_SENTENCES,
    CheatFlag,
    Position,
    assess_ride,
    find_teleports,
    flag_explanation,
    jaccard,
    near_duplicate_of,
    speed_problems,
    summary_of,
    trace_fingerprint,
    trace_summary,
)
from geo.classify import TravelMode
from geo.points import haversine_m
from geo.snapping import CellVisit, cell_centre

START = datetime(2025, 5, 12, 6, 0, tzinfo=UTC)
MECHELEN = (51.0259, 4.4776)


def _path(lat: float, lon: float, to_lon: float) -> list[str]:
    return list(h3.grid_path_cells(h3.latlng_to_cell(lat, lon, 10), h3.latlng_to_cell(lat, to_lon, 10)))


def _visits(cells: list[str], speeds: list[float], t0: float = 0.0) -> list[CellVisit]:
    """Visits at the given speeds, entry times following the distance between cell centres."""
    visits, t = [], t0
    for i, cell in enumerate(cells):
        if i:
            t += haversine_m(*cell_centre(cells[i - 1]), *cell_centre(cell)) / speeds[i - 1]
        visits.append(CellVisit(cell, t, speeds[i]))
    return visits


def _ride(
    segments: list[list[CellVisit]],
    mode: TravelMode = TravelMode.BIKE,
    started_at: datetime = START,
    distance_m: float | None = None,
) -> ProcessedRide:
    flat = list(itertools.chain.from_iterable(segments))
    if distance_m is None:
        distance_m = sum(
            haversine_m(*cell_centre(a.cell), *cell_centre(b.cell)) for a, b in itertools.pairwise(flat)
        )
    return ProcessedRide(
        mode=mode,
        distance_m=distance_m,
        duration_s=flat[-1].offset_s + 30,
        trimmed_m=400.0,
        started_at=started_at,
        resolution=10,
        segments=tuple(tuple(s) for s in segments),
        transitions=(),
        point_count=100,
        kept_point_count=100,
        dropped_accuracy=0,
        dropped_outliers=0,
    )


def _commute(speed: float = 5.0, started_at: datetime = START) -> ProcessedRide:
    cells = _path(*MECHELEN, 4.51)
    return _ride([_visits(cells, [speed] * len(cells), t0=60.0)], started_at=started_at)


def test_an_ordinary_bike_ride_raises_no_flag() -> None:
    verdict = assess_ride(_commute())
    assert verdict.ok
    assert verdict.flags == frozenset()


def test_bike_ride_too_fast_for_a_bike_is_flagged() -> None:
    cells = _path(*MECHELEN, 4.51)
    verdict = assess_ride(_ride([_visits(cells, [14.0] * len(cells))]))
    assert CheatFlag.TOO_FAST in verdict.flags
    assert not verdict.ok


def test_walk_at_cycling_speed_is_flagged_but_the_same_speed_on_a_bike_is_not() -> None:
    speeds = [5.5] * 10
    assert speed_problems(speeds, TravelMode.WALK, distance_m=1_000, duration_s=400)
    assert not speed_problems(speeds, TravelMode.BIKE, distance_m=1_000, duration_s=400)


def test_one_fast_cell_does_not_flag_a_ride_but_a_fast_maximum_does() -> None:
    speeds = [5.0] * 40 + [13.0]
    assert not speed_problems(speeds, TravelMode.BIKE, distance_m=5_000, duration_s=1_000)
    assert speed_problems([*speeds, 20.0], TravelMode.BIKE, distance_m=5_000, duration_s=1_000)


def test_average_speed_over_the_whole_ride_catches_a_gap_covered_by_train() -> None:
    problems = speed_problems([5.0] * 10, TravelMode.BIKE, distance_m=30_000, duration_s=1_800)
    assert any("average" in p for p in problems)


def test_motorised_rides_are_not_speed_checked_since_they_earn_nothing() -> None:
    assert not speed_problems([30.0] * 10, TravelMode.MOTORISED, distance_m=50_000, duration_s=1_800)


def test_teleport_between_segments_is_flagged() -> None:
    first = _visits(_path(*MECHELEN, 4.49), [5.0] * 20)
    far = _path(51.0259, 4.60, 4.61)  # ~8 km further east, reached 10 s later
    second = _visits(far, [5.0] * len(far), t0=first[-1].offset_s + 10)
    verdict = assess_ride(_ride([first, second], distance_m=3_000))
    assert CheatFlag.TELEPORT in verdict.flags


def test_adjacent_cells_entered_a_second_apart_are_not_a_teleport() -> None:
    cells = _path(*MECHELEN, 4.49)
    visits = [CellVisit(c, float(i), 5.0) for i, c in enumerate(cells)]  # cell-corner clipping
    positions = [Position(*cell_centre(v.cell), v.offset_s) for v in visits[:2]]
    assert not find_teleports(positions, TravelMode.BIKE, slack_m=150.0)


def test_teleport_in_raw_fixes_is_flagged_but_gps_multipath_hops_are_not() -> None:
    base = Position(51.0259, 4.4776, 0.0)
    hop = Position(51.0259, 4.4790, 1.0)  # ~100 m in one second: multipath
    jump = Position(51.0259, 4.5200, 30.0)  # ~3 km in 30 s
    assert not find_teleports([base, hop], TravelMode.BIKE)
    assert [j.index for j in find_teleports([base, hop, jump], TravelMode.BIKE)] == [2]


def test_same_trace_uploaded_again_under_another_key_is_an_exact_duplicate() -> None:
    original = _commute()
    earlier_id = uuid.uuid4()
    stored = summary_of(original, ride_id=earlier_id)
    # another idempotency key draws another trimming radius: the first cell is gone
    retrimmed = dataclasses.replace(original, segments=(original.segments[0][1:],))
    verdict = assess_ride(retrimmed, recent=[stored])
    assert CheatFlag.DUPLICATE in verdict.flags
    assert verdict.duplicate_of == earlier_id
    assert verdict.fingerprint == stored.fingerprint


def test_a_fingerprint_found_by_the_database_lookup_flags_a_duplicate() -> None:
    earlier_id = uuid.uuid4()
    verdict = assess_ride(_commute(), same_fingerprint=earlier_id)
    assert verdict.flags == {CheatFlag.DUPLICATE}
    assert verdict.duplicate_of == earlier_id


def test_reassessing_a_stored_ride_does_not_find_it_a_copy_of_itself() -> None:
    ride_id = uuid.uuid4()
    ride = _commute()
    assert assess_ride(ride, ride_id=ride_id, recent=[summary_of(ride, ride_id=ride_id)]).ok


def test_fingerprint_depends_on_start_duration_and_distance() -> None:
    fp = trace_fingerprint(started_at=START, duration_s=600, distance_m=3_000)
    assert fp == trace_fingerprint(
        started_at=START + timedelta(seconds=30), duration_s=600.2, distance_m=3_000.3
    )
    assert fp != trace_fingerprint(started_at=START + timedelta(days=1), duration_s=600, distance_m=3_000)
    assert fp != trace_fingerprint(started_at=START, duration_s=600, distance_m=3_010)


def test_edited_copy_shifted_to_another_day_is_a_near_duplicate() -> None:
    original = _commute()
    earlier_id = uuid.uuid4()
    copy = dataclasses.replace(
        original, started_at=START + timedelta(days=1, minutes=3), distance_m=original.distance_m + 7
    )
    verdict = assess_ride(copy, recent=[summary_of(original, ride_id=earlier_id)])
    assert verdict.flags == {CheatFlag.NEAR_DUPLICATE}
    assert verdict.duplicate_of == earlier_id


def test_second_recording_of_the_same_trip_at_the_same_time_is_a_near_duplicate() -> None:
    phone_a = _commute(speed=5.0)
    phone_b = _commute(speed=4.6)  # other timings, other distance, same cells, same time
    assert CheatFlag.NEAR_DUPLICATE in assess_ride(phone_b, recent=[summary_of(phone_a)]).flags


def test_riding_the_same_route_again_the_next_day_is_not_a_duplicate() -> None:
    monday = _commute(speed=5.0)
    cells = _path(*MECHELEN, 4.51)
    # the same pace, but a traffic light costs 25 s halfway and GPS jitter moves each cell entry a little
    visits = [
        dataclasses.replace(v, offset_s=v.offset_s + (25.0 if i > len(cells) // 2 else 0.0) + (i % 3) * 0.8)
        for i, v in enumerate(_visits(cells, [5.0] * len(cells), t0=60.0))
    ]
    tuesday = _ride([visits], started_at=START + timedelta(days=1))
    summary = summary_of(tuesday)
    assert jaccard(summary.first_offsets, summary_of(monday).first_offsets) == 1.0
    assert near_duplicate_of(summary, [summary_of(monday)]) is None
    assert assess_ride(tuesday, recent=[summary_of(monday)]).ok


def test_a_different_route_is_not_a_near_duplicate() -> None:
    other_cells = _path(51.04, 4.45, 4.49)
    other = _ride([_visits(other_cells, [5.0] * len(other_cells))])
    assert assess_ride(other, recent=[summary_of(_commute())]).ok


def test_flag_reasons_name_no_coordinates() -> None:
    first = _visits(_path(*MECHELEN, 4.49), [14.0] * 20)
    far = _path(51.0259, 4.60, 4.61)
    second = _visits(far, [14.0] * len(far), t0=first[-1].offset_s + 10)
    verdict = assess_ride(_ride([first, second]))
    text = " ".join(verdict.reasons)
    assert verdict.flags == {CheatFlag.TOO_FAST, CheatFlag.TELEPORT}
    assert not re.search(r"\d\.\d{4,}", text)


def test_summary_from_stored_integer_cells_and_rounded_offsets_matches_the_fresh_one() -> None:
    ride = _commute()
    stored_rows = [(h3.str_to_int(v.cell), round(v.offset_s)) for v in ride.segments[0]]
    rebuilt = trace_summary(started_at=ride.started_at, duration_s=round(ride.duration_s), visits=stored_rows)
    assert rebuilt.first_offsets == summary_of(ride).first_offsets


def test_copy_shifted_by_a_fraction_of_a_minute_is_still_a_near_duplicate() -> None:
    original = _commute()
    shift = 23.6
    copy = dataclasses.replace(
        original,
        started_at=START + timedelta(days=2),
        segments=(tuple(dataclasses.replace(v, offset_s=v.offset_s + shift) for v in original.segments[0]),),
        distance_m=original.distance_m - 4,
    )
    assert assess_ride(copy, recent=[summary_of(original)]).flags == {CheatFlag.NEAR_DUPLICATE}


def test_a_flagged_ride_is_explained_in_one_sentence_per_flag() -> None:
    assert flag_explanation([]) is None
    both = flag_explanation(["teleport", "too_fast", "teleport"])
    assert both is not None and both.startswith("This ride earns no points")
    assert both.count(FLAG_SENTENCES[CheatFlag.TOO_FAST]) == 1
    assert both.index(FLAG_SENTENCES[CheatFlag.TELEPORT]) < both.index(FLAG_SENTENCES[CheatFlag.TOO_FAST])
    assert set(FLAG_SENTENCES) == set(CheatFlag)  # every flag has its words
    assert "'retired'" in (flag_explanation(["retired"]) or "")  # a flag from an older release
