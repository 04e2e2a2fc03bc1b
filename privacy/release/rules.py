"""User-level differential privacy for per-cell figures: bounds, noisy release, threshold, coarsening.

Why not a k threshold: exact counts released when a cell has >= k people fall
to fake accounts (k-1 of them ride the victim's street: the cell appears iff
the victim rode it), to differencing two windows and to subtracting a
coarser resolution from its finer one. Here every released figure is noisy,
a cell only appears when its *noisy* count of people passes a threshold
``tau`` chosen from delta, and the privacy loss of one person is bounded
whatever they did, so the ledger can add releases up.

The privacy unit is one person over one release period (e.g. a month). The
guarantee rests on two things:

1. **Contribution bounds**, enforced *before* the noise by
   :func:`bound_contributions` (and by the SQL that reproduces it): one person
   adds 1 to the contributors and at most ``max_passes`` (C) to the passes of
   at most ``max_cells`` (N) keys, and marks a near miss in at most
   ``max_near_misses`` (M) keys. If the bounding is skipped or wrong, the
   (epsilon, delta) reported here is false.
2. the mechanism (`privacy.release.mechanism`), OpenDP's measurements and maps.

Everything after the noise (rounding, clamping, coarser resolutions as sums
of released children, finer ones as shares of their parent) only reads
released values, so it costs no privacy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Generic

import h3.api.basic_int as h3i

from domain.core.errors import Forbidden, InvalidInput
from privacy.release.mechanism import (
    Cell,
    FigureSplit,
    Flow,
    K,
    Released,
    ReleaseParams,
    Totals,
    key_text,
)


@dataclass(frozen=True, slots=True)
class Contribution(Generic[K]):
    """One person's figures for one key in the release period, before or after bounding.

    ``person`` is a pseudonymous key, the user id as ``str(uuid)`` (what
    ``user_id::text`` gives in PostgreSQL, so SQL ranks keys the same way); it
    never leaves this module. After :func:`bound_contributions`, ``passes`` is 0 when the key
    was not among the person's N kept keys (the row then only carries a near
    miss) and ``near_misses`` is 0 or 1.
    """

    person: str
    key: K
    passes: int
    near_misses: int = 0

    def __post_init__(self) -> None:
        if self.passes < 0 or self.near_misses < 0:
            raise ValueError("passes and near misses must not be negative")


# --- contribution bounding -------------------------------------------------------------------


def selection_rank(secret: bytes, person: str, key: Cell | Flow) -> bytes:
    """SHA-256 of the secret followed by ``person|key``: a person's keys in this order are a random
    permutation, drawn afresh with each release's secret.

    SQL (core PostgreSQL, no extension): ``sha256(:secret || convert_to(user_id::text || '|' ||
    cell::text, 'UTF8'))``; bytea sorts byte by byte like Python bytes. A prefix-keyed hash is
    enough here: the rank only has to be unpredictable per release, not a message authenticator.
    """
    return hashlib.sha256(secret + f"{person}|{key_text(key)}".encode()).digest()


def bound_contributions(
    rows: Iterable[Contribution[K]], params: ReleaseParams, secret: bytes
) -> list[Contribution[K]]:
    """Enforce the per-person bounds that the release's (epsilon, delta) is computed for.

    The rule, to be reproduced exactly in SQL:

    1. Sum each person's rows per key over the release period (days, modes).
    2. Rank the person's keys by :func:`selection_rank` (``secret`` drawn per release),
       smallest first.
    3. Exposure: among keys with passes > 0, keep the N = ``max_cells`` first;
       each kept key counts the person once and ``least(passes, C)`` passes.
    4. Near misses: among keys with near misses > 0, the M = ``max_near_misses``
       first count one near miss each (one person is one voice), whether or not
       the key was kept in step 3.

    A keyed hash rather than "the person's busiest cells": the kept subset is
    a uniform random sample of each person's keys, so no cell is favoured and
    the shown figures stay proportional to the truth. The secret need not be
    secret for the guarantee (any fixed per-person rule bounds the
    contribution), but a per-period secret varies which keys a heavy rider
    keeps from one month to the next.
    """
    summed: dict[str, dict[K, tuple[int, int]]] = {}
    for row in rows:
        keys = summed.setdefault(row.person, {})
        passes, near_misses = keys.get(row.key, (0, 0))
        keys[row.key] = (passes + row.passes, near_misses + row.near_misses)
    out: list[Contribution[K]] = []
    for person, keys in summed.items():
        ranked = sorted(keys, key=lambda k: selection_rank(secret, person, k))
        kept = set([k for k in ranked if keys[k][0] > 0][: params.max_cells])
        near = set([k for k in ranked if keys[k][1] > 0][: params.max_near_misses])
        for k in ranked:
            passes = min(keys[k][0], params.max_passes) if k in kept else 0
            near_miss = 1 if k in near else 0
            if passes or near_miss:
                out.append(Contribution(person, k, passes, near_miss))
    return out


def aggregate(rows: Iterable[Contribution[K]]) -> dict[K, Totals]:
    """Per-key totals of bounded rows: people with passes, passes, near misses (``GROUP BY`` in SQL)."""
    sums: dict[K, tuple[int, int, int]] = {}
    for row in rows:
        people, passes, near = sums.get(row.key, (0, 0, 0))
        sums[row.key] = (people + (row.passes > 0), passes + row.passes, near + row.near_misses)
    return {k: Totals(*v) for k, v in sums.items()}


# --- post-processing ------------------------------------------------------------------------


def _parent(cell: Cell, resolution: int) -> Cell:
    own = int(h3i.get_resolution(cell))
    if own < resolution:
        raise ValueError(f"a resolution-{own} cell cannot be split into resolution {resolution}")
    return cell if own == resolution else int(h3i.cell_to_parent(cell, resolution))


def coarsen_cells(values: Mapping[Cell, Released], resolution: int) -> dict[Cell, Released]:
    """Figures of coarser cells as sums of their *released* children only.

    A parent is never computed from exact data, so subtracting its children
    from it gives zero: a coarser map reveals nothing the base release did not.
    """
    out: dict[Cell, Released] = {}
    for cell, figures in values.items():
        parent = _parent(cell, resolution)
        out[parent] = out[parent] + figures if parent in out else figures
    return out


def coarsen_flows(values: Mapping[Flow, Released], resolution: int) -> dict[Flow, Released]:
    """Flows between coarser cells as sums of released flows; a pair inside one coarse cell is dropped."""
    out: dict[Flow, Released] = {}
    for (src, dst), figures in values.items():
        pair = _parent(src, resolution), _parent(dst, resolution)
        if pair[0] != pair[1]:
            out[pair] = out[pair] + figures if pair in out else figures
    return out


def refine_cells(values: Mapping[Cell, Released], resolution: int) -> dict[Cell, tuple[float, float, float]]:
    """Figures of finer cells as equal shares of their released parent: (contributors, passes, near misses).

    Which children a parent has is public (H3's geometry), so sharing a
    released figure among them is post-processing: it adds no information,
    only spreads what the release says over the area it says it for.
    """
    out: dict[Cell, tuple[float, float, float]] = {}
    for cell, figures in values.items():
        own = int(h3i.get_resolution(cell))
        if own > resolution:
            raise ValueError(f"a resolution-{own} cell cannot be refined to resolution {resolution}")
        children = [cell] if own == resolution else [int(c) for c in h3i.cell_to_children(cell, resolution)]
        share = 1.0 / len(children)
        for child in children:
            out[child] = (figures.contributors * share, figures.passes * share, figures.near_misses * share)
    return out


# --- periods and budget ----------------------------------------------------------------------


class BudgetSpent(Forbidden):
    """A release would take a period's privacy loss past its budget (403, naming the periods)."""

    code = "privacy-budget-spent"
    title = "Privacy budget spent"


class WindowNotClosed(InvalidInput):
    """A release may only cover days that are over: the data of an open day still changes."""

    code = "window-not-closed"


@dataclass(frozen=True, slots=True)
class Window:
    """The UTC days a release covers, both included."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("a window ends on or after its first day")

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def months(self) -> list[date]:
        """The calendar months (their first days) the window touches: each is charged for a release."""
        out, month = [], self.first.replace(day=1)
        while month <= self.last:
            out.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return out

    def is_month(self) -> bool:
        return (
            self.first.day == 1 and (self.last + timedelta(days=1)).day == 1 and self.months() == [self.first]
        )

    def label(self) -> str:
        if self.is_month():
            return self.first.strftime("%Y-%m")
        return f"{self.first.isoformat()}/{self.last.isoformat()}"


def month_window(month: date) -> Window:
    first = month.replace(day=1)
    return Window(first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))


def last_closed_month(today: date) -> Window:
    """The latest calendar month that is over on ``today`` (UTC): what public statistics cover."""
    return month_window(today.replace(day=1) - timedelta(days=1))


def closed_window(first: date, last: date, today: date, *, field: str = "to") -> Window:
    """A planner's window, refused while its last day is not over (the release would be of open data)."""
    if last >= today:
        raise WindowNotClosed(
            field,
            f"A release covers days that are over: end the window on {today - timedelta(days=1)} or earlier.",
        )
    return Window(first, last)


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    """How figures leave the system: the parameters of every release and the budget per month.

    ``resolution``: the base resolution releases are made at (coarser maps sum
    released cells, finer ones share them out). ``budget_epsilon``: the
    privacy loss all releases touching one calendar month may add up to for
    one person; a release that would pass it is refused (:class:`BudgetSpent`).
    """

    epsilon: float = 1.0
    delta: float = 1e-6
    resolution: int = 8
    max_cells: int = 8
    max_passes: int = 32
    budget_epsilon: float = 4.0

    def __post_init__(self) -> None:
        if not 7 <= self.resolution <= 10:
            raise ValueError("the release resolution is 7 to 10")
        if self.budget_epsilon < self.epsilon:
            raise ValueError("the monthly budget must allow at least one release")

    def params(self) -> ReleaseParams:
        """Cells and flows alike: two thirds of the budget for who is shown, one third for the passes;
        near misses are not released (their hazard reports are public anyway)."""
        return ReleaseParams(
            epsilon=self.epsilon,
            delta=self.delta,
            max_cells=self.max_cells,
            max_passes=self.max_passes,
            max_near_misses=0,
            split=FigureSplit(contributors=2.0, passes=1.0, near_misses=0.0),
        )

    def check_budget(self, spent: Mapping[date, float], window: Window) -> None:
        """Refuse a release of ``window`` when a month it touches has less than ``epsilon`` left."""
        short = [m for m in window.months() if spent.get(m, 0.0) + self.epsilon > self.budget_epsilon + 1e-9]
        if short:
            months = ", ".join(m.strftime("%Y-%m") for m in short)
            raise BudgetSpent(
                f"The privacy budget of {months} is spent: ask for a window already released (a whole month"
                " is released once and served again), or wait for the next month.",
                months=[m.strftime("%Y-%m") for m in short],
                budgetEpsilon=self.budget_epsilon,
            )
