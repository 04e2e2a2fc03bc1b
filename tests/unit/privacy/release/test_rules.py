"""The DP release: bounds, noise, threshold, the reported privacy loss, post-processing, and attacks.

OpenDP's samplers are cryptographically seeded and cannot be seeded here, so
no test asserts an exact noisy value. Every statistical assertion is chosen so
that a spurious failure is astronomically unlikely (each states its odds);
the data itself comes from seeded ``random.Random``.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from dataclasses import replace

import h3
import h3.api.basic_int as h3i
import opendp.prelude as dp
import pytest
from scipy.stats import beta

from privacy.release import mechanism
from privacy.release.mechanism import (
    FigureSplit,
    Released,
    ReleaseParams,
    Totals,
    calibrate,
    contributors_measurement,
    figure_measurement,
    privacy_map,
    release_cells,
    release_flows,
)
from privacy.release.rules import Contribution, aggregate, bound_contributions, coarsen_cells, coarsen_flows

SECRET = b"release-2026-01"
CENTRE = h3i.latlng_to_cell(51.028, 4.480, 10)
CELLS = sorted(h3i.grid_disk(CENTRE, 6))  # 127 res-10 cells around Mechelen
PARAMS = ReleaseParams(epsilon=1.0, delta=1e-6, max_cells=4, max_passes=4)
WITH_NEAR_MISSES = ReleaseParams(
    epsilon=1.0, delta=1e-6, max_cells=4, max_passes=4, max_near_misses=2, split=FigureSplit(2, 1, 1)
)


def rows_for(rng: random.Random, people: int, cells_each: int) -> list[Contribution[int]]:
    """Per-day rows, as ``cell_exposure`` holds them: a person's cell may appear on several days."""
    rows = []
    for p in range(people):
        for cell in rng.sample(CELLS, cells_each):
            for _ in range(rng.randint(1, 3)):
                rows.append(Contribution(f"person-{p}", cell, rng.randint(1, 9), int(rng.random() < 0.1)))
    return rows


# --- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": 0.0},
        {"epsilon": math.inf},
        {"delta": 0.0},
        {"delta": 1.0},
        {"max_cells": 0},
        {"max_passes": 0},
        {"max_near_misses": -1},
        {"threshold_delta_share": 1.0},
        {"split": FigureSplit(1, 1, 1)},  # a near-miss share without a near-miss bound
    ],
)
def test_unusable_parameters_are_refused(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"epsilon": 1.0, "delta": 1e-6, "max_cells": 4, "max_passes": 4}
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        ReleaseParams(**(base | kwargs))  # type: ignore[arg-type]


def test_contributors_must_have_a_share() -> None:
    with pytest.raises(ValueError, match="contributors"):
        FigureSplit(0, 1, 0)


# --- contribution bounds ---------------------------------------------------------------------


def test_bounds_hold_for_every_person() -> None:
    rng = random.Random(1)
    bounded = bound_contributions(rows_for(rng, 40, 20), WITH_NEAR_MISSES, SECRET)
    per_person = Counter(r.person for r in bounded if r.passes > 0)
    near = Counter(r.person for r in bounded if r.near_misses > 0)
    assert max(per_person.values()) == WITH_NEAR_MISSES.max_cells
    assert max(near.values()) <= WITH_NEAR_MISSES.max_near_misses
    assert all(0 <= r.passes <= WITH_NEAR_MISSES.max_passes for r in bounded)
    assert all(r.near_misses in (0, 1) for r in bounded)
    assert len({(r.person, r.key) for r in bounded}) == len(bounded)  # days summed into one row


def test_bounding_follows_the_written_rule_sql_will_reproduce() -> None:
    """Sum per key, rank by HMAC-SHA256(secret, person|cell), keep the N smallest, clamp to C."""
    rng = random.Random(2)
    rows = rows_for(rng, 12, 15)
    bounded = bound_contributions(rows, PARAMS, SECRET)
    sums: dict[tuple[str, int], int] = Counter()
    for r in rows:
        sums[(r.person, r.key)] += r.passes
    for person in {r.person for r in rows}:
        cells = [c for (p, c) in sums if p == person]
        digest = {c: hashlib.sha256(SECRET + f"{person}|{c}".encode()).digest() for c in cells}
        ranked = sorted(cells, key=lambda c: digest[c])
        expected = {c: min(sums[(person, c)], PARAMS.max_passes) for c in ranked[:4]}
        assert {r.key: r.passes for r in bounded if r.person == person and r.passes} == expected


def test_the_kept_cells_are_an_unbiased_sample() -> None:
    """2,000 people ride the same 20 cells and keep 4: each cell is kept by about a fifth of them.

    Deterministic (a fixed HMAC key); for a uniform selection the count per
    cell is Binomial(2000, 0.2): mean 400, sd 18, and the bounds are 5 sd away.
    """
    cells = CELLS[:20]
    rows = [Contribution(f"p{p}", c, 3) for p in range(2000) for c in cells]
    kept = Counter(r.key for r in bound_contributions(rows, PARAMS, SECRET))
    assert set(kept) == set(cells)
    assert all(310 <= n <= 490 for n in kept.values())


def test_another_secret_keeps_other_cells() -> None:
    rows = rows_for(random.Random(3), 20, 20)

    def kept(secret: bytes) -> set[tuple[str, int]]:
        return {(r.person, r.key) for r in bound_contributions(rows, PARAMS, secret)}

    assert kept(SECRET) == kept(SECRET)
    assert kept(SECRET) != kept(b"release-2026-02")


def test_aggregate_counts_people_passes_and_near_misses() -> None:
    rows = [
        Contribution("a", 1, 3),
        Contribution("b", 1, 1, 1),
        Contribution("c", 1, 0, 1),  # near miss only: not a contributor of exposure
        Contribution("a", 2, 2),
    ]
    assert aggregate(rows) == {1: Totals(2, 4, 2), 2: Totals(1, 2, 0)}


# --- the noisy release -----------------------------------------------------------------------


def test_released_figures_are_noisy_and_consistent() -> None:
    """The output is not the input: P(discrete Gaussian noise = 0) < 0.04 at these scales, so 60 of
    the 120 figures matching their exact value would take a < 1e-40 coincidence."""
    cal = calibrate(PARAMS)
    big = cal.threshold + 12 * math.ceil(cal.contributors_scale)  # 12 sd above tau: always shown
    totals = {c: Totals(big + i, 3 * (big + i)) for i, c in enumerate(CELLS[:60])}
    release = release_cells(totals, PARAMS)
    assert set(release.values) == set(totals)
    same = sum(release.values[c].contributors == t.contributors for c, t in totals.items())
    same += sum(release.values[c].passes == t.passes for c, t in totals.items())
    assert same < 60
    for figures in release.values.values():
        assert figures.contributors >= cal.threshold
        assert figures.contributors <= figures.passes <= PARAMS.max_passes * figures.contributors
        assert figures.near_misses == 0  # the default split leaves them out


def test_cells_few_people_rode_are_suppressed() -> None:
    """A one-person cell shows with probability <= delta_tau (< 5e-10 at delta = 1e-9), a two-person
    one about 3 times as often: any of these ~400 cells showing has odds below 1e-6."""
    params = ReleaseParams(1.0, 1e-9, 4, 4)
    totals = {c: Totals(1 + i % 2, 2) for i, c in enumerate(sorted(h3i.grid_disk(CENTRE, 11)))}
    assert len(totals) > 390
    assert release_cells(totals, params).values == {}


def test_near_misses_are_released_when_they_have_a_share() -> None:
    cal = calibrate(WITH_NEAR_MISSES)
    assert cal.near_misses_scale is not None
    big = cal.threshold + 12 * math.ceil(cal.contributors_scale)
    release = release_cells({CENTRE: Totals(big, big, 5)}, WITH_NEAR_MISSES)
    assert release.values[CENTRE].near_misses >= 0


def test_an_empty_period_releases_nothing() -> None:
    assert release_cells({}, PARAMS).values == {}


# --- the privacy loss, from OpenDP's maps ----------------------------------------------------


def test_reported_loss_is_opendps_map_of_the_measurement_used() -> None:
    """With the whole budget on contributors, the release is one OpenDP measurement: its own
    zCDP -> (epsilon, delta) conversion must give exactly what we report."""
    params = ReleaseParams(1.0, 1e-6, 8, 1, split=FigureSplit(1, 0, 0))
    cal = calibrate(params)
    measurement = contributors_measurement(cal.contributors_scale, cal.threshold)
    rho, delta_tau = privacy_map(measurement, (8, 8, 1))
    assert (cal.rho, cal.threshold_delta) == (rho, delta_tau)
    converted = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(measurement), params.delta)
    epsilon, delta = privacy_map(converted, (8, 8, 1))
    assert cal.epsilon == pytest.approx(epsilon, rel=1e-9)
    assert cal.delta == delta == params.delta


def test_figures_add_their_rho_and_stay_within_the_budget() -> None:
    cal = calibrate(WITH_NEAR_MISSES)
    assert cal.passes_scale is not None and cal.near_misses_scale is not None
    parts = [
        privacy_map(contributors_measurement(cal.contributors_scale, cal.threshold), (4, 4, 1))[0],
        privacy_map(figure_measurement(cal.passes_scale), math.sqrt(4) * 4),
        privacy_map(figure_measurement(cal.near_misses_scale), math.sqrt(2)),
    ]
    assert cal.rho == pytest.approx(sum(parts), rel=1e-12)
    assert 0.95 * WITH_NEAR_MISSES.epsilon <= cal.epsilon <= WITH_NEAR_MISSES.epsilon
    assert cal.threshold_delta <= WITH_NEAR_MISSES.delta * WITH_NEAR_MISSES.threshold_delta_share


def test_the_threshold_grows_as_delta_shrinks_and_as_people_reach_more_cells() -> None:
    taus = [calibrate(ReleaseParams(1.0, d, 4, 4)).threshold for d in (1e-4, 1e-6, 1e-9)]
    assert taus[0] < taus[1] < taus[2]
    assert calibrate(ReleaseParams(1.0, 1e-6, 16, 4)).threshold > taus[1]


# --- post-processing -------------------------------------------------------------------------


def test_coarser_cells_are_sums_of_released_children_only() -> None:
    cal = calibrate(PARAMS)
    rng = random.Random(5)
    # a mix: busy cells (shown), quiet ones (hidden) whose people the parent must not reveal
    totals = {c: Totals(rng.choice((2, cal.threshold * 3)), 50) for c in sorted(h3i.grid_disk(CENTRE, 9))}
    release = release_cells(totals, PARAMS)
    assert 0 < len(release.values) < len(totals)
    for resolution in (9, 8, 7):
        parents = coarsen_cells(release.values, resolution)
        children: dict[int, list[Released]] = {}
        for cell, figures in release.values.items():
            children.setdefault(h3i.cell_to_parent(cell, resolution), []).append(figures)
        assert set(parents) == set(children)
        for parent, kids in children.items():
            total = Released(0, 0, 0)
            for kid in kids:
                total = total + kid
            assert parents[parent] == total  # parent minus its shown children: nothing left
    assert coarsen_cells(release.values, 10) == release.values
    with pytest.raises(ValueError, match="cannot be split"):
        coarsen_cells(coarsen_cells(release.values, 8), 9)


def test_flows_are_released_and_coarsened_the_same_way() -> None:
    params = ReleaseParams(1.0, 1e-6, 4, 4)
    cal = calibrate(params)
    ring = list(h3i.grid_ring(CENTRE, 1))
    pairs = [(CENTRE, c) for c in ring] + [(c, CENTRE) for c in ring]
    rows = [Contribution(f"p{p}", pair, 2) for p in range(cal.threshold * 3) for pair in pairs[:2]]
    rows += [Contribution("loner", pairs[5], 9)]
    release = release_flows(aggregate(bound_contributions(rows, params, SECRET)), params)
    assert set(release.values) == set(pairs[:2])  # the loner's flow stays hidden
    coarse = coarsen_flows(release.values, 9)
    assert all(src != dst for src, dst in coarse)
    assert sum(f.passes for f in coarse.values()) <= sum(f.passes for f in release.values.values())
    with pytest.raises(ValueError, match="near misses"):
        release_flows({}, WITH_NEAR_MISSES)


# --- attacks ---------------------------------------------------------------------------------

TRIALS = 400
ALPHA = 1e-9
"""Each one-sided Clopper-Pearson bound fails with probability <= ALPHA: a correct mechanism fails a
check below with probability <= 4 * ALPHA (two rates, two directions)."""


def empirical_epsilon(hits_in: int, hits_out: int, delta: float) -> float:
    """A lower confidence bound on the epsilon an attacker's guesses demonstrate.

    DP means P[guess in | victim in] <= e^eps * P[guess in | victim out] + delta (and the same
    for "guess out"); with Clopper-Pearson bounds on both rates, a larger ratio than e^eps
    disproves the claim. This is how DP implementations are audited.
    """

    def lower(k: int) -> float:
        return float(beta.ppf(ALPHA, k, TRIALS - k + 1)) if k > 0 else 0.0

    def upper(k: int) -> float:
        return float(beta.ppf(1 - ALPHA, k + 1, TRIALS - k)) if k < TRIALS else 1.0

    def bound(tp_lo: float, fp_hi: float) -> float:
        return math.log((tp_lo - delta) / fp_hi) if tp_lo > delta else 0.0

    return max(
        bound(lower(hits_in), upper(hits_out)),
        bound(lower(TRIALS - hits_out), upper(TRIALS - hits_in)),
    )


VICTIM_CELLS = CELLS[40:52]  # 12 cells: more than max_cells, so bounding drops some


def victim_rows() -> list[Contribution[int]]:
    return [Contribution("victim", c, 6) for c in VICTIM_CELLS]


def old_rule_sees(rows: list[Contribution[int]]) -> dict[str, int]:
    """The export before releases: exact counts of the cells with >= 5 distinct people."""
    people: dict[str, set[str]] = {}
    for r in rows:
        people.setdefault(h3.int_to_str(r.key), set()).add(r.person)
    return {cell: len(who) for cell, who in people.items() if len(who) >= 5}


def attack(background: list[Contribution[int]], guess_in: str) -> tuple[float, float]:
    """400 releases with the victim, 400 without; the empirical epsilon of the attacker's guesses
    against the old exact-k rule and against the DP release."""
    victim = {h3.int_to_str(c) for c in VICTIM_CELLS}
    worlds = {True: background + victim_rows(), False: background}

    def old_guess(seen: dict[str, int]) -> bool:
        known = old_rule_sees(background)
        if guess_in == "shown":
            return any(c in seen for c in victim)
        return sum(seen.get(c, 0) - known.get(c, 0) for c in victim) > 0

    def dp_guess(values: dict[int, Released], expected: int) -> bool:
        if guess_in == "shown":
            return any(c in values for c in VICTIM_CELLS)
        return sum(values[c].contributors for c in VICTIM_CELLS if c in values) > expected

    # the old rule is deterministic: one export per world says it all
    old_hits = {w: TRIALS * old_guess(old_rule_sees(rows)) for w, rows in worlds.items()}
    old_eps = empirical_epsilon(old_hits[True], old_hits[False], PARAMS.delta)

    totals = {w: aggregate(bound_contributions(rows, PARAMS, SECRET)) for w, rows in worlds.items()}
    expected = sum(t.contributors for c, t in totals[False].items() if c in VICTIM_CELLS)
    dp_hits = {
        w: sum(dp_guess(dict(release_cells(totals[w], PARAMS).values), expected) for _ in range(TRIALS))
        for w in worlds
    }
    return old_eps, empirical_epsilon(dp_hits[True], dp_hits[False], PARAMS.delta)


def test_fake_accounts_n_minus_1_attack() -> None:
    """k-1 fake accounts ride exactly the victim's cells: under the k rule a cell appears iff the
    victim rode it. The same audit finds the old rule's epsilon above 2.9 and the DP release's
    within its claim."""
    fakes = [Contribution(f"fake-{f}", c, 1) for f in range(4) for c in VICTIM_CELLS]
    old_eps, dp_eps = attack(fakes, "shown")
    assert old_eps > 2.9
    assert dp_eps <= calibrate(PARAMS).epsilon


def crowd() -> list[Contribution[int]]:
    """Busy cells (three times tau), two of which the victim keeps after bounding."""
    people = 3 * calibrate(PARAMS).threshold
    return [Contribution(f"rider-{p}", c, 2) for p in range(people) for c in VICTIM_CELLS[:4]]


def test_differencing_two_windows_attack() -> None:
    """An attacker who knows everyone else's contribution (an earlier window, or the city's own
    staff): under the k rule the exact counts differ by the victim; under DP the released counts
    in the victim's cells move by at most N people inside noise of sd ~ sigma."""
    old_eps, dp_eps = attack(crowd(), "count")
    assert old_eps > 2.9
    assert dp_eps <= calibrate(PARAMS).epsilon


def test_the_audit_catches_a_release_with_too_little_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: the same audit, run on a release whose noise is 100 times too small,
    must find it out (the victim's +2 is then plain to see in every trial)."""
    cal = calibrate(PARAMS)
    weak = replace(cal, contributors_scale=cal.contributors_scale / 100)
    monkeypatch.setattr(mechanism, "calibrate", lambda params: weak)
    _, dp_eps = attack(crowd(), "count")
    assert dp_eps > 2 * cal.epsilon
