"""The one release mechanism: every figure that leaves the system comes from a release made here.

`obtain` returns the release of a window: the stored one when the window was
released before (the same noise again, so asking twice cannot average it
away), otherwise a new one, made under locks and charged to the ledger of
every calendar month the window touches, refused when one of those months
would pass its budget (`privacy.release.rules.BudgetSpent`, 403). A new
release: bounded contributions in SQL (`privacy.release.store`), the noisy
release and its (epsilon, delta) from OpenDP (`privacy.release.mechanism`),
the figures and the ledger rows stored, committed at once.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.core.locks import hold, lock_key
from domain.core.replica import primary_of
from privacy.release import store
from privacy.release.mechanism import Calibration, Cell, Flow, Released, release_cells, release_flows
from privacy.release.rules import ReleasePolicy, Window
from privacy.release.tables import Dataset, LedgerEntry, PrivacyRelease


@dataclass(frozen=True, slots=True)
class Served:
    """A release as callers use it: what it covers and what it cost, and its noisy figures."""

    release: PrivacyRelease
    values: Mapping[tuple[int, int], Released]
    new: bool

    @property
    def window(self) -> Window:
        return Window(self.release.first_day, self.release.last_day)

    def cells(self) -> dict[Cell, Released]:
        return {cell: v for (cell, _), v in self.values.items()}

    def flows(self) -> dict[Flow, Released]:
        return {(cell, to): v for (cell, to), v in self.values.items()}

    def describe(self) -> dict[str, str | int | float]:
        """What an export says about the release it shows (no person, no exact count)."""
        r = self.release
        return {
            "release": str(r.id),
            "releaseWindow": Window(r.first_day, r.last_day).label(),
            "releaseResolution": r.resolution,
            "epsilon": round(r.epsilon, 4),
            "delta": r.delta,
            "threshold": int(r.calibration["threshold"]),
        }


def _calibration_json(cal: Calibration) -> dict[str, object]:
    return {
        "rho": cal.rho,
        "threshold": cal.threshold,
        "thresholdDelta": cal.threshold_delta,
        "contributorsScale": cal.contributors_scale,
        "passesScale": cal.passes_scale,
        "nearMissesScale": cal.near_misses_scale,
        "contributorsDistance": list(cal.contributors_distance),
        "passesL2": cal.passes_l2,
    }


async def obtain(
    session: AsyncSession,
    dataset: Dataset,
    window: Window,
    policy: ReleasePolicy,
    *,
    now: datetime,
    actor_id: uuid.UUID | None = None,
    actor_role: str = "public",
) -> Served:
    """The release of ``window`` (made now if it never was); commits when it makes one.

    Call it on a session with nothing pending: a new release is committed
    before any byte of it is served, with its ledger rows.

    On a replica's session (`domain.core.replica`) a stored release is served
    from the replica, and a missing one is made on the primary: the ledger is
    written there only, under the primary's locks, which look for the release
    again. A lagging replica can therefore only send a request to the primary,
    never make a second release of a window; a release it does see is the
    primary's, whole (its figures commit with it), and never changes after.
    """
    found = await store.find(session, dataset.value, window, policy.resolution)
    if found is not None:
        return Served(found, await store.values_of(session, found.id), new=False)
    primary = primary_of(session)
    if primary is not None:
        async with primary() as writer:
            return await obtain(
                writer, dataset, window, policy, now=now, actor_id=actor_id, actor_role=actor_role
            )
    months = window.months()
    await hold(
        session,
        [lock_key("privacy-release", dataset.value, window.label(), str(policy.resolution))]
        + [lock_key("privacy-budget", m.isoformat()) for m in months],
    )
    found = await store.find(session, dataset.value, window, policy.resolution)  # made while we waited
    if found is not None:
        await session.commit()
        return Served(found, await store.values_of(session, found.id), new=False)
    policy.check_budget(await store.spent(session, months), window)
    params = policy.params()
    secret, res, today = os.urandom(32), policy.resolution, now.date()
    n, c = params.max_cells, params.max_passes
    values: dict[tuple[int, int], Released]
    if dataset is Dataset.CELLS:
        totals = await store.bounded_cells(
            session, window, resolution=res, secret=secret, max_cells=n, max_passes=c, today=today
        )
        cells = release_cells(totals, params)
        values, calibration = {(cell, 0): v for cell, v in cells.values.items()}, cells.calibration
    else:
        pairs = await store.bounded_flows(
            session, window, resolution=res, secret=secret, max_cells=n, max_passes=c, today=today
        )
        flows = release_flows(pairs, params)
        values, calibration = dict(flows.values), flows.calibration
    release = PrivacyRelease(
        dataset=dataset.value,
        first_day=window.first,
        last_day=window.last,
        resolution=policy.resolution,
        epsilon=calibration.epsilon,
        delta=calibration.delta,
        calibration=_calibration_json(calibration),
        key_count=len(values),
        created_at=now,
        actor_id=actor_id,
        actor_role=actor_role,
    )
    session.add(release)
    await session.flush()
    await store.store_values(session, release.id, values)
    for month in months:
        session.add(
            LedgerEntry(
                release_id=release.id,
                month=month,
                epsilon=calibration.epsilon,
                delta=calibration.delta,
                charged_at=now,
            )
        )
    await session.commit()
    return Served(release, values, new=True)
