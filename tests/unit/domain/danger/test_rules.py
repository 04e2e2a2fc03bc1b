"""The danger model's promises: bounded, monotone in evidence, forgetting, hard to paint red by one voice."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from domain.danger.rules import (
    DEFAULT_PARAMS,
    CellInputs,
    DangerParams,
    HazardInput,
    credibility,
    danger_score,
)
from domain.hazards.rules import HazardStatus

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def hazard(
    severity: int = 2,
    *,
    reports: int = 1,
    confirmations: int = 0,
    disputes: int = 0,
    age_days: float = 0.0,
    status: HazardStatus = HazardStatus.OPEN,
) -> HazardInput:
    return HazardInput(severity, confirmations, disputes, reports, status, NOW - timedelta(days=age_days))


def score(*hazards: HazardInput, rides: int = 0, near_misses: int = 0) -> float:
    return danger_score(CellInputs(hazards, near_misses, rides, 5), NOW).score


def test_a_cell_without_evidence_scores_zero() -> None:
    assert score() == 0.0
    assert score(rides=10_000) == 0.0


def test_score_rises_with_the_severity_of_a_confirmed_hazard() -> None:
    scores = [score(hazard(s, reports=2, confirmations=4), rides=100) for s in (1, 2, 3)]
    assert scores[0] < scores[1] < scores[2]


def test_score_rises_with_confirmations() -> None:
    scores = [score(hazard(3, confirmations=c), rides=100) for c in range(8)]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)


def test_evidence_halves_every_half_life() -> None:
    fresh = danger_score(CellInputs((hazard(3, reports=3),)), NOW)
    aged = danger_score(CellInputs((hazard(3, reports=3, age_days=DEFAULT_PARAMS.half_life_days),)), NOW)
    assert aged.hazard_evidence == pytest.approx(fresh.hazard_evidence / 2)
    ages = [0, 30, 90, 180, 365, 1000]
    scores = [score(hazard(3, reports=3, confirmations=5, age_days=a), rides=200) for a in ages]
    assert scores == sorted(scores, reverse=True)
    assert scores[-1] < 2


def test_activity_in_the_future_counts_as_now() -> None:
    assert score(hazard(age_days=-3)) == score(hazard(age_days=0))


@pytest.mark.parametrize("status", [HazardStatus.RESOLVED, HazardStatus.REJECTED])
def test_resolved_and_rejected_hazards_stop_counting(status: HazardStatus) -> None:
    closed = hazard(3, reports=10, confirmations=30, status=status)
    assert score(closed, rides=500) == 0.0
    result = danger_score(CellInputs((closed, hazard(1)), 0, 500, 9), NOW)
    assert result.hazards == 1
    assert result.reports == 1
    assert result.confirmations == 0
    assert result.score == score(hazard(1), rides=500)


@pytest.mark.parametrize("status", [HazardStatus.OPEN, HazardStatus.ACKNOWLEDGED, HazardStatus.PLANNED])
def test_every_active_status_counts_the_same(status: HazardStatus) -> None:
    assert score(hazard(2, status=status)) == score(hazard(2))


def test_one_old_unconfirmed_report_does_not_paint_a_cell_red() -> None:
    assert score(hazard(3, age_days=180), rides=1000) < 15
    assert score(hazard(3), rides=0) < 25  # even fresh and very dangerous, one voice stays low


def test_many_confirmed_reports_on_a_busy_junction_go_red() -> None:
    junction = (
        hazard(3, reports=4, confirmations=10, age_days=10),
        hazard(2, reports=3, confirmations=6, disputes=1, age_days=30),
        hazard(3, reports=2, confirmations=5, age_days=5),
    )
    assert score(*junction, rides=600, near_misses=8) > 90
    assert score(hazard(3, reports=3, confirmations=8, age_days=7), rides=600) > 70


def test_disputes_lower_the_score() -> None:
    scores = [score(hazard(3, reports=2, confirmations=3, disputes=d), rides=100) for d in range(6)]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_credibility_of_a_hazard_nobody_supports_is_zero() -> None:
    assert credibility(0, 0, 5) == 0.0


def test_a_busy_cell_weighs_the_same_hazard_more() -> None:
    quiet, busy = score(hazard(3, reports=3), rides=0), score(hazard(3, reports=3), rides=1000)
    assert quiet < busy


def test_near_misses_need_exposure_before_they_count_much() -> None:
    assert score(near_misses=1, rides=1) < 25
    assert score(near_misses=20, rides=500) > 50
    assert score(near_misses=5, rides=50) > score(near_misses=5, rides=5000)


def test_breakdown_exports_the_inputs_behind_the_score() -> None:
    result = danger_score(CellInputs((hazard(3, reports=2, confirmations=4, disputes=1),), 3, 120, 7), NOW)
    props = result.properties()
    assert props["danger"] == round(result.score, 1)
    assert props["hazards"] == 1
    assert props["maxSeverity"] == 3
    assert (props["reports"], props["confirmations"], props["disputes"]) == (2, 4, 1)
    assert (props["nearMisses"], props["rides"], props["contributors"]) == (3, 120, 7)
    assert {"hazardEvidence", "exposureFactor", "nearMissEvidence"} <= props.keys()


def test_score_stays_within_bounds_for_random_inputs() -> None:
    rng = random.Random(20260601)
    statuses = list(HazardStatus)
    for _ in range(3000):
        hazards = tuple(
            hazard(
                rng.randint(1, 3),
                reports=rng.choice([0, 1, 2, 10, 10_000]),
                confirmations=rng.choice([0, 1, 5, 10**6]),
                disputes=rng.choice([0, 1, 5, 10**6]),
                age_days=rng.uniform(-10, 5000),
                status=rng.choice(statuses),
            )
            for _ in range(rng.randint(0, 30))
        )
        cell = CellInputs(hazards, rng.choice([0, 1, 50, 10**7]), rng.choice([0, 1, 500, 10**8]), 5)
        params = DangerParams(half_life_days=rng.uniform(0.1, 1000), hazard_weight=rng.uniform(0, 10))
        value = danger_score(cell, NOW, params).score
        assert 0.0 <= value <= 100.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"severity": 0}, "severity"),
        ({"severity": 4}, "severity"),
        ({"reports": -1}, "negative"),
    ],
)
def test_hazard_inputs_are_checked(kwargs: dict[str, int], message: str) -> None:
    fields = {"severity": 2, "confirmations": 0, "disputes": 0, "reports": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        HazardInput(**fields, status=HazardStatus.OPEN, last_activity=NOW)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        HazardInput(2, 0, 0, 1, HazardStatus.OPEN, datetime(2026, 1, 1))


def test_params_are_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        DangerParams(half_life_days=0)
    with pytest.raises(ValueError, match="decrease"):
        DangerParams(severity_weights=(3.0, 2.0, 1.0))
    with pytest.raises(ValueError, match="exposure_floor"):
        DangerParams(exposure_floor=1.5)
