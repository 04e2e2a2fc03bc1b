"""The differentially private mechanism: OpenDP measurements, their calibration, and the noisy release.

See `privacy.release.rules` for the per-person bounds the mechanism's
(epsilon, delta) is computed for, and for what may be done with a release
afterwards. The mechanism:

**OpenDP's measurements and privacy maps**, which draw the noise with
   exact, cryptographically seeded samplers and say what the noise buys:

   - contributors per key: ``make_gaussian_threshold`` over a hashmap with the
     L0,2,inf distance ``(N, N, 1)`` (OpenDP tightens the L2 part to sqrt(N)).
     It adds discrete Gaussian noise to every key and drops keys whose noisy
     count is below ``tau``; that is the partition selection, and its map
     returns (rho, delta_tau): delta_tau is the chance that a key only one
     person has is shown at all.
   - passes and near misses, for the keys already shown (public by then):
     ``make_gaussian`` over an integer vector, L2 sensitivity sqrt(N)*C and
     sqrt(M).

   All three are zero-concentrated DP, so the release is (rho_1 + rho_2 +
   rho_3)-zCDP except with probability delta_tau (zCDP composes by adding
   rho; OpenDP's ``make_composition`` would do the same sum but insists on one
   input domain, and our figures are three separate aggregates).
   ``make_zCDP_to_approxDP`` and ``make_fix_delta`` turn that into the
   (epsilon, delta) a ledger records.

``tau``, the noise scales and the split of the budget are found by
``dp.binary_search`` on those maps, never by a hand-written formula; what is
reported is recomputed from the maps of the measurements actually used.

Everything after the noise (rounding, clamping, coarser resolutions as sums
of released children) only reads released values, so it costs no privacy.

OpenDP 0.16 gates every constructor (even ``make_laplace``) behind the
``contrib`` feature flag, so enabling it is unavoidable; we do not enable
``honest-but-curious`` (user-defined functions) nor ``floating-point``
(counts are integers and get the exact discrete Gaussian).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Generic, TypeVar

import opendp.prelude as dp

dp.enable_features("contrib")

Cell = int
"""An H3 cell as its 64-bit index, the BIGINT the database stores."""
Flow = tuple[int, int]
"""An ordered pair of cells: passages from the first into the second."""
K = TypeVar("K", Cell, Flow)


def key_text(key: Cell | Flow) -> str:
    """The text that is hashed for a key: a cell's BIGINT in decimal (``cell::text`` in PostgreSQL),
    a flow as ``'<from>><to>'`` (``from_cell::text || '>' || to_cell::text``)."""
    if isinstance(key, tuple):
        return f"{key[0]}>{key[1]}"
    return str(key)


_CALIBRATION_THRESHOLD: Final = 1
"""Threshold used while searching a noise scale: only the rho part of the map is read then."""


@dataclass(frozen=True, slots=True)
class FigureSplit:
    """How the release's budget (in zCDP rho) is shared between its figures; normalised, any scale.

    Contributors must get a share: their noisy count decides which keys appear.
    A share of 0 leaves the figure out of the release (flows have no near misses).
    The default gives near misses nothing: a person has one or two a month, so
    per-cell noise that hides one person swamps them (``bench/privacy_utility.py``);
    they stay public as the hazard reports they also file.
    """

    contributors: float = 2.0
    passes: float = 1.0
    near_misses: float = 0.0

    def __post_init__(self) -> None:
        if min(self.contributors, self.passes, self.near_misses) < 0:
            raise ValueError("shares must not be negative")
        if not self.contributors > 0:
            raise ValueError("contributors need a share: they decide which keys are shown")

    def normalised(self) -> tuple[float, float, float]:
        total = self.contributors + self.passes + self.near_misses
        return self.contributors / total, self.passes / total, self.near_misses / total


@dataclass(frozen=True, slots=True)
class ReleaseParams:
    """One release's privacy budget and the per-person bounds the budget is computed for.

    ``max_cells`` (N): keys (cells, or ordered cell pairs for flows) one person
    may influence in the release period. ``max_passes`` (C): passes one person
    may add to one key. ``max_near_misses`` (M): keys in which one person may
    count as having had a near miss (each at most once). ``threshold_delta_share``:
    the part of ``delta`` spent on showing a key few people rode; the rest pays
    for converting zCDP to (epsilon, delta).
    """

    epsilon: float
    delta: float
    max_cells: int
    max_passes: int
    max_near_misses: int = 0
    split: FigureSplit = field(default_factory=FigureSplit)
    threshold_delta_share: float = 0.5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epsilon) and self.epsilon > 0):
            raise ValueError("epsilon must be positive and finite")
        if not 0 < self.delta < 1:
            raise ValueError("delta must be within (0, 1)")
        if self.max_cells < 1 or self.max_passes < 1 or self.max_near_misses < 0:
            raise ValueError("max_cells and max_passes must be >= 1, max_near_misses >= 0")
        if not 0 < self.threshold_delta_share < 1:
            raise ValueError("threshold_delta_share must be within (0, 1)")
        if self.split.near_misses > 0 and self.max_near_misses == 0:
            raise ValueError("a near-miss share needs max_near_misses >= 1")


@dataclass(frozen=True, slots=True)
class Calibration:
    """What the noise is and what it costs: the entry a privacy-loss ledger records for one release.

    ``epsilon`` and ``delta`` are the release's total loss for one person (the
    ledger adds them up across releases); ``rho`` and ``threshold_delta`` are
    the zCDP loss and the partition-selection delta it comes from. Scales are
    the discrete Gaussian's sigma; ``None`` for a figure left out.
    """

    epsilon: float
    delta: float
    rho: float
    threshold: int
    threshold_delta: float
    contributors_scale: float
    passes_scale: float | None
    near_misses_scale: float | None
    contributors_distance: tuple[int, int, int]
    passes_l2: float
    near_misses_l2: float


@dataclass(frozen=True, slots=True)
class Totals:
    """Exact per-key figures over *bounded* contributions: the input of a release, never an output."""

    contributors: int
    passes: int
    near_misses: int = 0


@dataclass(frozen=True, slots=True)
class Released:
    """Noisy figures of one shown key.

    At a coarser resolution they are sums over released children, so
    ``contributors`` counts person-cell pairs there (one person riding two
    children counts twice), not distinct people.
    """

    contributors: int
    passes: int
    near_misses: int = 0

    def __add__(self, other: Released) -> Released:
        return Released(
            self.contributors + other.contributors,
            self.passes + other.passes,
            self.near_misses + other.near_misses,
        )


@dataclass(frozen=True, slots=True)
class Release(Generic[K]):
    """A differentially private release: shown keys with noisy figures, and what it cost."""

    values: Mapping[K, Released]
    params: ReleaseParams
    calibration: Calibration


# --- OpenDP measurements and their calibration ----------------------------------------------


def privacy_map(measurement: dp.Measurement, d_in: Any) -> Any:
    """``measurement.map`` with a type (OpenDP's is untyped): the privacy loss at input distance ``d_in``."""
    return measurement.map(d_in)  # type: ignore[no-untyped-call]


def _counts_space(key_type: Any) -> tuple[Any, Any]:
    domain = dp.map_domain(dp.atom_domain(T=key_type), dp.atom_domain(T=dp.i64))
    return domain, dp.l02inf_distance(dp.absolute_distance(T=dp.i64))


def contributors_measurement(scale: float, threshold: int, key_type: Any = dp.i64) -> dp.Measurement:
    """Noisy contributors per key, keys below ``threshold`` dropped (Approximate<zCDP>)."""
    return dp.m.make_gaussian_threshold(*_counts_space(key_type), scale=scale, threshold=threshold)


def figure_measurement(scale: float) -> dp.Measurement:
    """Noisy integer figures for keys already shown, in a public order (zCDP, L2 input distance)."""
    space = dp.vector_domain(dp.atom_domain(T=dp.i64)), dp.l2_distance(T=dp.f64)
    return dp.m.make_gaussian(*space, scale=scale)


def _l2(squared: int) -> float:
    """sqrt of an integer, never rounded down (an underestimated sensitivity would overstate privacy)."""
    root = math.sqrt(squared)
    return root if root * root >= squared else math.nextafter(root, math.inf)


def _reference(scale: float) -> dp.Measurement:
    """A Gaussian on one number: rho = d_in^2 / (2 scale^2). OpenDP's own Context translates budgets
    between measures through such a reference measurement; so do we."""
    return dp.m.make_gaussian(dp.atom_domain(T=dp.i64), dp.absolute_distance(T=dp.f64), scale=scale)


def _zcdp_to_epsilon(rho: float, conversion_delta: float) -> float:
    """Epsilon of a rho-zCDP mechanism at ``conversion_delta``, by OpenDP's conversion."""
    if rho == 0:
        return 0.0
    d_in = math.nextafter(math.sqrt(2.0 * rho), math.inf)
    converted = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(_reference(1.0)), conversion_delta)
    epsilon, _ = privacy_map(converted, d_in)
    return float(epsilon)


def _rho_budget(epsilon: float, conversion_delta: float) -> float:
    """The largest zCDP rho (up to the search's resolution) that OpenDP converts to <= epsilon."""

    def converted(scale: float) -> dp.Measurement:
        return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(_reference(scale)), conversion_delta)

    scale = float(dp.binary_search(lambda s: privacy_map(converted(s), 1.0)[0] <= epsilon, T=float))
    return float(privacy_map(_reference(scale), 1.0))


def _figure_scale(l2: float, rho: float) -> float:
    return float(dp.binary_search(lambda s: privacy_map(figure_measurement(s), l2) <= rho, T=float))


@lru_cache(maxsize=64)
def calibrate(params: ReleaseParams) -> Calibration:
    """Noise scales and threshold for ``params``, and the release's (epsilon, delta) from OpenDP's maps.

    The reported epsilon is at most ``params.epsilon`` (the searches round
    towards privacy); the reported delta is ``params.delta``.
    """
    threshold_budget = params.delta * params.threshold_delta_share
    rho_total = _rho_budget(params.epsilon, params.delta - threshold_budget)
    share_c, share_p, share_n = params.split.normalised()
    n, c, m = params.max_cells, params.max_passes, params.max_near_misses
    distance = (n, n, 1)  # L0, an L2 bound OpenDP tightens to sqrt(L0)*Linf, Linf

    def rho_c(scale: float) -> float:
        return float(privacy_map(contributors_measurement(scale, _CALIBRATION_THRESHOLD), distance)[0])

    scale_c = float(dp.binary_search(lambda s: rho_c(s) <= rho_total * share_c, T=float))
    threshold = int(
        dp.binary_search(
            lambda t: privacy_map(contributors_measurement(scale_c, int(t)), distance)[1] <= threshold_budget,
            T=int,
        )
    )
    rho_used, threshold_delta = privacy_map(contributors_measurement(scale_c, threshold), distance)
    rho = float(rho_used)

    passes_l2, near_l2 = _l2(n * c * c), _l2(m)
    scale_p = _figure_scale(passes_l2, rho_total * share_p) if share_p > 0 else None
    scale_n = _figure_scale(near_l2, rho_total * share_n) if share_n > 0 else None
    if scale_p is not None:
        rho += float(privacy_map(figure_measurement(scale_p), passes_l2))
    if scale_n is not None:
        rho += float(privacy_map(figure_measurement(scale_n), near_l2))
    return Calibration(
        epsilon=_zcdp_to_epsilon(rho, params.delta - float(threshold_delta)),
        delta=params.delta,
        rho=rho,
        threshold=threshold,
        threshold_delta=float(threshold_delta),
        contributors_scale=scale_c,
        passes_scale=scale_p,
        near_misses_scale=scale_n,
        contributors_distance=distance,
        passes_l2=passes_l2,
        near_misses_l2=near_l2,
    )


# --- the release ----------------------------------------------------------------------------


def _noisy(scale: float | None, exact: list[int]) -> list[int]:
    if scale is None:
        return [0] * len(exact)
    if not exact:
        return []
    return [int(v) for v in figure_measurement(scale)(exact)]


def _release(
    totals: Mapping[K, Totals],
    params: ReleaseParams,
    key_type: Any,
    encode: Callable[[K], Any],
    decode: Callable[[Any], K],
) -> Release[K]:
    cal = calibrate(params)
    people = {encode(k): t.contributors for k, t in totals.items() if t.contributors > 0}
    shown = contributors_measurement(cal.contributors_scale, cal.threshold, key_type)(people)
    # the threshold keeps large |noisy counts|; a negative one is noise, not people
    keys = sorted(decode(k) for k, v in shown.items() if v >= cal.threshold)
    contributors = [int(shown[encode(k)]) for k in keys]
    passes = _noisy(cal.passes_scale, [totals[k].passes for k in keys])
    near = _noisy(cal.near_misses_scale, [totals[k].near_misses for k in keys])
    values: dict[K, Released] = {}
    for k, people_k, passes_k, near_k in zip(keys, contributors, passes, near, strict=True):
        # every counted person adds 1..C passes: clamp the noisy passes into what that allows
        clamped = min(max(passes_k, people_k), people_k * params.max_passes)
        values[k] = Released(people_k, clamped if cal.passes_scale is not None else 0, max(near_k, 0))
    return Release(values, params, cal)


def release_cells(totals: Mapping[Cell, Totals], params: ReleaseParams) -> Release[Cell]:
    """Release per-cell figures of bounded contributions (one base resolution, one period)."""
    return _release(totals, params, dp.i64, lambda k: k, int)


def _decode_flow(text: str) -> Flow:
    src, dst = text.split(">")
    return int(src), int(dst)


def release_flows(totals: Mapping[Flow, Totals], params: ReleaseParams) -> Release[Flow]:
    """Release per-flow figures (ordered cell pairs) of bounded contributions; flows carry no near misses."""
    if params.split.near_misses > 0:
        raise ValueError("flows have no near misses: give them a near-miss share of 0")
    return _release(totals, params, dp.String, key_text, _decode_flow)
