"""The danger model: a 0-100 score per cell from hazards, near misses and exposure.

Pure and deterministic: the caller passes ``now``, nothing reads a clock. The
formula, its defaults and the reasons for them are in ``docs/danger-model.md``;
in short::

    hazard evidence H = Σ over active hazards of
        severity_weight[s] * credibility(reports, confirmations, disputes) * 0.5 ** (age_days / half_life)
    credibility      = (1 - exp(-support / support_scale)) * support / (support + dispute_weight * disputes),
                       support = reports + confirmations
    exposure factor  = floor + (1 - floor) * (1 - exp(-rides / rides_scale))
    near-miss term N = near_miss_weight * near_misses / (rides + prior_rides) / rate_scale
    score            = 100 * (1 - exp(-(hazard_weight * H * exposure factor + N)))

Every term is non-negative and the last line saturates, so the score is bounded
by construction and a pile of evidence approaches 100 without passing it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from domain.hazards.rules import ACTIVE_STATUSES, MAX_SEVERITY, MIN_SEVERITY, HazardStatus

_SECONDS_PER_DAY: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class HazardInput:
    """One hazard (a cluster of reports for one cell and category) as the danger model sees it.

    ``last_activity`` is the latest joining report or ``stillThere`` confirmation
    (the hazard's ``lastConfirmedAt``): a hazard people keep confirming stays
    fresh, one nobody mentions again fades. It must be timezone-aware.
    """

    severity: int
    confirmations: int
    disputes: int
    reports: int
    status: HazardStatus
    last_activity: datetime

    def __post_init__(self) -> None:
        if not MIN_SEVERITY <= self.severity <= MAX_SEVERITY or isinstance(self.severity, bool):
            raise ValueError(f"severity must be {MIN_SEVERITY}..{MAX_SEVERITY}")
        if min(self.confirmations, self.disputes, self.reports) < 0:
            raise ValueError("counts must not be negative")
        if self.last_activity.tzinfo is None:
            raise ValueError("last_activity must be timezone-aware")


@dataclass(frozen=True, slots=True)
class CellInputs:
    """Everything the model knows about one cell, already limited to consenting contributors.

    ``near_misses``: ride incidents recorded in the cell; ``rides``: passages of
    rides through it (the exposure); ``contributors``: distinct people behind
    these figures (not used by the score, exported with it, and the base of the
    k-anonymity rule).
    """

    hazards: tuple[HazardInput, ...] = ()
    near_misses: int = 0
    rides: int = 0
    contributors: int = 0

    def __post_init__(self) -> None:
        if min(self.near_misses, self.rides, self.contributors) < 0:
            raise ValueError("counts must not be negative")


@dataclass(frozen=True, slots=True)
class DangerParams:
    """The model's knobs; ``docs/danger-model.md`` gives the reason for each default."""

    half_life_days: float = 90.0
    severity_weights: tuple[float, float, float] = (1.0, 2.0, 3.0)
    support_scale: float = 3.0
    dispute_weight: float = 1.0
    hazard_weight: float = 0.5
    exposure_floor: float = 0.6
    rides_scale: float = 50.0
    near_miss_weight: float = 0.5
    near_miss_rate_scale: float = 0.02
    near_miss_prior_rides: float = 100.0

    def __post_init__(self) -> None:
        positive = (self.half_life_days, self.support_scale, self.rides_scale, self.near_miss_rate_scale)
        if min(positive) <= 0 or self.near_miss_prior_rides <= 0:
            raise ValueError("half-life, scales and the ride prior must be positive")
        weights = (*self.severity_weights, self.dispute_weight, self.hazard_weight, self.near_miss_weight)
        if min(weights) < 0:
            raise ValueError("weights must not be negative")
        if list(self.severity_weights) != sorted(self.severity_weights):
            raise ValueError("severity weights must not decrease with severity")
        if not 0.0 <= self.exposure_floor <= 1.0:
            raise ValueError("exposure_floor must be within [0, 1]")


DEFAULT_PARAMS: Final = DangerParams()


@dataclass(frozen=True, slots=True)
class DangerScore:
    """A score and the inputs and terms behind it, so a planner can see why a cell is red.

    Counts cover active hazards only (open, acknowledged, planned): resolved and
    rejected ones no longer describe the street.
    """

    score: float
    hazard_evidence: float
    exposure_factor: float
    near_miss_evidence: float
    hazards: int
    reports: int
    confirmations: int
    disputes: int
    near_misses: int
    rides: int
    contributors: int
    max_severity: int

    def properties(self) -> dict[str, float | int]:
        """Flat camelCase properties for GeoJSON and CSV (flat, because GIS tools read nested ones badly)."""
        return {
            "danger": round(self.score, 1),
            "hazardEvidence": round(self.hazard_evidence, 4),
            "exposureFactor": round(self.exposure_factor, 4),
            "nearMissEvidence": round(self.near_miss_evidence, 4),
            "hazards": self.hazards,
            "maxSeverity": self.max_severity,
            "reports": self.reports,
            "confirmations": self.confirmations,
            "disputes": self.disputes,
            "nearMisses": self.near_misses,
            "rides": self.rides,
            "contributors": self.contributors,
        }


def credibility(
    reports: int, confirmations: int, disputes: int, params: DangerParams = DEFAULT_PARAMS
) -> float:
    """How much to believe a hazard, in [0, 1).

    Corroboration saturates (one report ≈ 0.28, five supporters ≈ 0.81 with the
    defaults), so a single person cannot make a hazard count fully; the share of
    supporters among all voices lets disputes pull it down.
    """
    support = reports + confirmations
    if support <= 0:
        return 0.0
    corroboration = -math.expm1(-support / params.support_scale)
    agreement = support / (support + params.dispute_weight * disputes)
    return corroboration * agreement


def decay(last_activity: datetime, now: datetime, half_life_days: float) -> float:
    """0.5 per half-life since the last activity; activity in the future (clock skew) counts as now."""
    age_days = max(0.0, (now - last_activity).total_seconds() / _SECONDS_PER_DAY)
    return float(0.5 ** (age_days / half_life_days))


def hazard_evidence(hazard: HazardInput, now: datetime, params: DangerParams = DEFAULT_PARAMS) -> float:
    """One hazard's weight in its cell; zero once it is resolved or rejected."""
    if hazard.status not in ACTIVE_STATUSES:
        return 0.0
    weight = params.severity_weights[hazard.severity - MIN_SEVERITY]
    cred = credibility(hazard.reports, hazard.confirmations, hazard.disputes, params)
    return weight * cred * decay(hazard.last_activity, now, params.half_life_days)


def exposure_factor(rides: int, params: DangerParams = DEFAULT_PARAMS) -> float:
    """From ``exposure_floor`` (no rides seen) towards 1 (busy): a hazard endangers more people there."""
    busy = -math.expm1(-rides / params.rides_scale)
    return params.exposure_floor + (1.0 - params.exposure_floor) * busy


def near_miss_evidence(near_misses: int, rides: int, params: DangerParams = DEFAULT_PARAMS) -> float:
    """Near misses per passage, shrunk towards zero by a prior of ``near_miss_prior_rides`` uneventful rides.

    Without the prior one near miss on the only ride through a quiet cell would
    be a 100 % rate; with it, it stays a hint until rides accumulate.
    """
    rate = near_misses / (rides + params.near_miss_prior_rides)
    return params.near_miss_weight * rate / params.near_miss_rate_scale


def danger_score(inputs: CellInputs, now: datetime, params: DangerParams = DEFAULT_PARAMS) -> DangerScore:
    """Score one cell, from 0 (no evidence) towards 100 (overwhelming evidence)."""
    active: Sequence[HazardInput] = [h for h in inputs.hazards if h.status in ACTIVE_STATUSES]
    h_term = sum(hazard_evidence(h, now, params) for h in active)
    e_factor = exposure_factor(inputs.rides, params)
    n_term = near_miss_evidence(inputs.near_misses, inputs.rides, params)
    x = params.hazard_weight * h_term * e_factor + n_term
    return DangerScore(
        score=min(100.0, max(0.0, 100.0 * -math.expm1(-x))),
        hazard_evidence=h_term,
        exposure_factor=e_factor,
        near_miss_evidence=n_term,
        hazards=len(active),
        reports=sum(h.reports for h in active),
        confirmations=sum(h.confirmations for h in active),
        disputes=sum(h.disputes for h in active),
        near_misses=inputs.near_misses,
        rides=inputs.rides,
        contributors=inputs.contributors,
        max_severity=max((h.severity for h in active), default=0),
    )


__all__ = [
    "DEFAULT_PARAMS",
    "CellInputs",
    "DangerParams",
    "DangerScore",
    "HazardInput",
    "credibility",
    "danger_score",
    "decay",
    "exposure_factor",
    "hazard_evidence",
    "near_miss_evidence",
]
