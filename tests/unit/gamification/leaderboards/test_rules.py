from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from gamification.leaderboards.rules import (
    ChallengeMetric,
    IndividualStanding,
    Member,
    Trip,
    Window,
    challenge_leaderboard,
    competition_ranks,
    member_figures,
    period_window,
    progress,
)
from gamification.streaks import CITY_TZ
from geo.classify import TravelMode

WINDOW = Window(datetime(2025, 5, 1, tzinfo=CITY_TZ), datetime(2025, 6, 1, tzinfo=CITY_TZ))
SMALL, LARGE = uuid.uuid4(), uuid.uuid4()


def _members(team: uuid.UUID, n: int, prefix: str, consent: bool = True) -> list[Member]:
    return [Member(uuid.uuid4(), team, f"{prefix}-{i}", consent) for i in range(n)]


def _trip(member: Member, km: float, day: int = 5, mode: TravelMode = TravelMode.BIKE, **kw: bool) -> Trip:
    return Trip(member.user_id, datetime(2025, 5, day, 7, 30, tzinfo=UTC), km * 1000, mode, **kw)


def test_class_of_5_with_higher_per_member_distance_beats_class_of_30_with_higher_total() -> None:
    small, large = _members(SMALL, 5, "s"), _members(LARGE, 30, "l")
    trips = [_trip(m, 10) for m in small] + [_trip(m, 4) for m in large]  # 50 km vs 120 km
    board = challenge_leaderboard(small + large, trips, metric=ChallengeMetric.DISTANCE, window=WINDOW)
    first, second = board.teams
    assert (first.team_id, first.rank, first.per_member) == (SMALL, 1, 10.0)
    assert (second.team_id, second.rank, second.total) == (LARGE, 2, 120.0)
    assert second.total > first.total


def test_total_basis_ranks_the_larger_class_first() -> None:
    small, large = _members(SMALL, 5, "s"), _members(LARGE, 30, "l")
    trips = [_trip(m, 10) for m in small] + [_trip(m, 4) for m in large]
    board = challenge_leaderboard(
        small + large, trips, metric=ChallengeMetric.DISTANCE, window=WINDOW, basis="total"
    )
    assert board.teams[0].team_id == LARGE


def test_per_member_figures_divide_by_every_member_not_only_the_active_ones() -> None:
    small = _members(SMALL, 4, "s")
    board = challenge_leaderboard(small, [_trip(small[0], 8)], metric=ChallengeMetric.DISTANCE, window=WINDOW)
    assert board.teams[0].per_member == 2.0


def test_participation_is_the_share_of_members_with_a_qualifying_trip() -> None:
    small, large = _members(SMALL, 5, "s"), _members(LARGE, 30, "l")
    trips = [_trip(m, 2) for m in small[:4]] + [_trip(m, 2) for m in large[:15]]
    board = challenge_leaderboard(small + large, trips, metric=ChallengeMetric.PARTICIPATION, window=WINDOW)
    assert [(t.team_id, t.participation_pct) for t in board.teams] == [(SMALL, 80.0), (LARGE, 50.0)]
    assert board.teams[1].active_members == 15


def test_user_without_leaderboard_consent_never_appears_by_name_but_counts_in_team_totals() -> None:
    shy = Member(uuid.uuid4(), SMALL, "Shy-Otter", leaderboard_consent=False)
    open_ = Member(uuid.uuid4(), SMALL, "Bold-Fox", leaderboard_consent=True)
    trips = [_trip(shy, 30), _trip(open_, 5)]
    board = challenge_leaderboard(
        [shy, open_], trips, metric=ChallengeMetric.DISTANCE, window=WINDOW, viewer_id=shy.user_id
    )
    assert [i.nickname for i in board.individuals] == ["Bold-Fox"]
    assert "Shy-Otter" not in repr(board)
    assert str(shy.user_id) not in repr(board)
    assert board.teams[0].total == 35.0


def test_standings_carry_no_user_ids() -> None:
    assert {f.name for f in dataclasses.fields(IndividualStanding)} == {
        "rank",
        "nickname",
        "value",
        "is_viewer",
    }


def test_viewer_is_marked_in_the_individual_list() -> None:
    a, b = _members(SMALL, 2, "k")
    board = challenge_leaderboard(
        [a, b],
        [_trip(a, 3), _trip(b, 5)],
        metric=ChallengeMetric.DISTANCE,
        window=WINDOW,
        viewer_id=a.user_id,
    )
    assert [(i.nickname, i.is_viewer) for i in board.individuals] == [("k-1", False), ("k-0", True)]


def test_tied_individuals_share_a_rank_and_the_next_rank_is_skipped() -> None:
    a, b, c = _members(SMALL, 3, "t")
    board = challenge_leaderboard(
        [a, b, c], [_trip(a, 5), _trip(b, 5), _trip(c, 2)], metric=ChallengeMetric.DISTANCE, window=WINDOW
    )
    assert [i.rank for i in board.individuals] == [1, 1, 3]


def test_float_noise_does_not_split_a_tie() -> None:
    assert competition_ranks([0.3, 0.1 + 0.2, 0.2]) == [1, 1, 3]


def test_members_with_nothing_yet_are_not_listed_as_individuals() -> None:
    a, b = _members(SMALL, 2, "z")
    board = challenge_leaderboard([a, b], [_trip(a, 3)], metric=ChallengeMetric.TRIPS, window=WINDOW)
    assert [i.nickname for i in board.individuals] == ["z-0"]
    assert board.teams[0].members == 2


def test_motorised_flagged_short_and_out_of_window_trips_do_not_count() -> None:
    (m,) = _members(SMALL, 1, "x")
    trips = [
        _trip(m, 10, mode=TravelMode.MOTORISED),
        _trip(m, 10, flagged=True),
        _trip(m, 0.1),
        Trip(m.user_id, datetime(2025, 4, 30, 21, 59, tzinfo=UTC), 5000, TravelMode.BIKE),  # 23:59 local
        Trip(m.user_id, datetime(2025, 5, 31, 22, 0, tzinfo=UTC), 5000, TravelMode.BIKE),  # 00:00 local, June
    ]
    figures = member_figures([m], trips, WINDOW)
    assert figures[m.user_id].trips == 0


def test_active_days_are_counted_on_local_days() -> None:
    (m,) = _members(SMALL, 1, "d")
    trips = [
        Trip(m.user_id, datetime(2025, 5, 5, 6, 0, tzinfo=UTC), 2000, TravelMode.BIKE),
        Trip(m.user_id, datetime(2025, 5, 5, 22, 30, tzinfo=UTC), 2000, TravelMode.BIKE),  # 00:30 on 6 May
        Trip(m.user_id, datetime(2025, 5, 6, 15, 0, tzinfo=UTC), 2000, TravelMode.BIKE),
    ]
    board = challenge_leaderboard([m], trips, metric=ChallengeMetric.ACTIVE_DAYS, window=WINDOW)
    assert board.teams[0].total == 2.0
    assert board.individuals[0].value == 2.0


def test_progress_against_an_optional_target() -> None:
    members = _members(SMALL, 3, "p")
    trips = [_trip(m, 10) for m in members]
    board = challenge_leaderboard(members, trips, metric=ChallengeMetric.DISTANCE, window=WINDOW, target=60)
    assert board.progress is not None
    assert (board.progress.achieved, board.progress.fraction, board.progress.reached) == (30.0, 0.5, False)
    assert (
        challenge_leaderboard(members, trips, metric=ChallengeMetric.DISTANCE, window=WINDOW).progress is None
    )


def test_participation_target_is_a_percentage_of_all_members() -> None:
    members = _members(SMALL, 4, "q")
    trips = [_trip(m, 1) for m in members[:3]]
    board = challenge_leaderboard(
        members, trips, metric=ChallengeMetric.PARTICIPATION, window=WINDOW, target=75
    )
    assert board.progress is not None
    assert board.progress.reached


def test_target_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        progress(1.0, 0)


def test_window_refuses_naive_or_reversed_bounds() -> None:
    with pytest.raises(ValueError, match="aware"):
        Window(datetime(2025, 5, 1), datetime(2025, 6, 1))
    with pytest.raises(ValueError, match="after"):
        Window(WINDOW.ends_at, WINDOW.starts_at)


def test_period_window_is_the_local_week_or_month() -> None:
    week = period_window("week", date(2025, 3, 30))  # a Sunday, the spring DST change
    assert week.starts_at == datetime(2025, 3, 24, tzinfo=CITY_TZ)
    assert week.ends_at == datetime(2025, 3, 31, tzinfo=CITY_TZ)
    assert week.ends_at - week.starts_at == timedelta(days=7)
    assert week.ends_at.astimezone(UTC) - week.starts_at.astimezone(UTC) == timedelta(days=7) - timedelta(
        hours=1
    )
    month = period_window("month", date(2024, 2, 10))
    assert (month.starts_at.date(), month.ends_at.date()) == (date(2024, 2, 1), date(2024, 3, 1))
