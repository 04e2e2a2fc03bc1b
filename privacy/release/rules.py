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
from typing import Generic

import h3.api.basic_int as h3i

from privacy.release.mechanism import Cell, Flow, K, Released, ReleaseParams, Totals, key_text


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
