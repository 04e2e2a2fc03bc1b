"""The sliding-window arithmetic of the rate limiter (the counting itself is tested against PostgreSQL)."""

from __future__ import annotations

from domain.core.ratelimit import seconds_until_allowed

HOUR = 3600.0


def test_hits_within_the_limit_are_allowed() -> None:
    assert seconds_until_allowed(current=10, previous=0, limit=10, elapsed=5, span=HOUR) == 0
    assert seconds_until_allowed(current=6, previous=10, limit=10, elapsed=HOUR * 0.6, span=HOUR) == 0


def test_a_burst_across_a_window_boundary_is_refused() -> None:
    # ten hits just before the boundary, one just after: a fixed window would allow it
    assert seconds_until_allowed(current=1, previous=10, limit=10, elapsed=0.25, span=900.0) > 0


def test_retry_after_waits_for_the_previous_window_to_fade() -> None:
    wait = seconds_until_allowed(current=5, previous=10, limit=10, elapsed=0, span=HOUR)
    # the next hit makes 6: allowed once 10 * (1 - t) ≤ 4, at t = 0.6 h
    assert wait == 0.6 * HOUR
    assert seconds_until_allowed(current=6, previous=10, limit=10, elapsed=wait, span=HOUR) == 0


def test_retry_after_for_a_spent_window_runs_into_the_next_one() -> None:
    wait = seconds_until_allowed(current=20, previous=0, limit=10, elapsed=HOUR / 2, span=HOUR)
    # in the next window the next hit is allowed once 1 + 20 * (1 - t) ≤ 10, at t = 0.55 h
    assert wait == HOUR / 2 + 0.55 * HOUR
    assert seconds_until_allowed(current=1, previous=20, limit=10, elapsed=0.55 * HOUR, span=HOUR) == 0


def test_a_limit_of_one_waits_for_the_whole_window_to_fade() -> None:
    assert seconds_until_allowed(current=2, previous=0, limit=1, elapsed=0, span=60.0) == 120
