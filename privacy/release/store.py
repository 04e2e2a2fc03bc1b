"""The statements behind a release: bounded contributions in SQL, and the stored releases and ledger.

The bounding is `privacy.release.rules.bound_contributions` written as SQL,
so that no unbounded figure ever reaches Python: per person, their figures
per key summed over the window, their keys ranked by
``sha256(secret || person|key)``, the first N kept, passes clamped at C.
Only people whose ``research_sharing`` consent is effective when the release
is made count (a child only with a guardian's grant). What comes back are the
exact, bounded per-key totals: the mechanism's input, never an output.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.core.enums import ConsentPurpose
from privacy.consent.store import effective_consent_subquery
from privacy.release.mechanism import Cell, Flow, Released, Totals
from privacy.release.rules import Window
from privacy.release.tables import LedgerEntry, PrivacyRelease, ReleasedValue

_RES_SHIFT: Final = 52
_CLEAR_RES: Final = ~(0xF << _RES_SHIFT)


def _parent(column: str, resolution: int) -> str:
    """``h3.cell_to_parent`` on a BIGINT H3 index in SQL (the resolution field set, finer digits 7)."""
    fill = (1 << (3 * (15 - resolution))) - 1
    return f"(({column} & {_CLEAR_RES}) | {(resolution << _RES_SHIFT) | fill})"


def _consenting(today: date) -> str:
    """The consent subquery compiled to SQL text with its binds inlined (dates and constants only)."""
    query = effective_consent_subquery(ConsentPurpose.RESEARCH_SHARING, today)
    return str(query.compile(compile_kwargs={"literal_binds": True}))


def _cells_sql(resolution: int, today: date) -> sa.TextClause:
    return sa.text(
        f"""
        WITH per AS (
          SELECT e.user_id, {_parent("e.cell", resolution)} AS k, sum(e.rides) AS passes
          FROM cell_exposure e
          WHERE e.day BETWEEN :first AND :last AND e.user_id IN ({_consenting(today)})
          GROUP BY 1, 2
        ), ranked AS (
          SELECT k, least(passes, :max_passes) AS passes,
                 row_number() OVER (
                   PARTITION BY user_id
                   ORDER BY sha256(:secret || convert_to(user_id::text || '|' || k::text, 'UTF8'))
                 ) AS r
          FROM per WHERE passes > 0
        )
        SELECT k, count(*)::int AS people, sum(passes)::int AS passes
        FROM ranked WHERE r <= :max_cells GROUP BY k
        """  # noqa: S608 - constant fragments
    )


def _flows_sql(resolution: int, today: date) -> sa.TextClause:
    src, dst = _parent("t.from_cell", resolution), _parent("t.to_cell", resolution)
    return sa.text(
        f"""
        WITH per AS (
          SELECT t.user_id, {src} AS a, {dst} AS b, sum(t.traversals) AS passes
          FROM cell_transition t
          WHERE t.day BETWEEN :first AND :last AND {src} <> {dst}
            AND t.user_id IN ({_consenting(today)})
          GROUP BY 1, 2, 3
        ), ranked AS (
          SELECT a, b, least(passes, :max_passes) AS passes,
                 row_number() OVER (
                   PARTITION BY user_id
                   ORDER BY sha256(:secret
                                   || convert_to(user_id::text || '|' || a::text || '>' || b::text, 'UTF8'))
                 ) AS r
          FROM per WHERE passes > 0
        )
        SELECT a, b, count(*)::int AS people, sum(passes)::int AS passes
        FROM ranked WHERE r <= :max_cells GROUP BY a, b
        """  # noqa: S608 - constant fragments
    )


def _binds(window: Window, secret: bytes, max_cells: int, max_passes: int) -> dict[str, Any]:
    return {
        "first": window.first,
        "last": window.last,
        "secret": secret,
        "max_cells": max_cells,
        "max_passes": max_passes,
    }


async def bounded_cells(
    session: AsyncSession,
    window: Window,
    *,
    resolution: int,
    secret: bytes,
    max_cells: int,
    max_passes: int,
    today: date,
) -> dict[Cell, Totals]:
    """Per cell at ``resolution``: people and clamped passes over the bounded contributions."""
    rows = await session.execute(_cells_sql(resolution, today), _binds(window, secret, max_cells, max_passes))
    return {int(k): Totals(people, passes) for k, people, passes in rows}


async def bounded_flows(
    session: AsyncSession,
    window: Window,
    *,
    resolution: int,
    secret: bytes,
    max_cells: int,
    max_passes: int,
    today: date,
) -> dict[Flow, Totals]:
    """Per ordered pair of distinct cells at ``resolution``: people and clamped passages."""
    rows = await session.execute(_flows_sql(resolution, today), _binds(window, secret, max_cells, max_passes))
    return {(int(a), int(b)): Totals(people, passes) for a, b, people, passes in rows}


async def find(session: AsyncSession, dataset: str, window: Window, resolution: int) -> PrivacyRelease | None:
    stmt = sa.select(PrivacyRelease).where(
        col(PrivacyRelease.dataset) == dataset,
        col(PrivacyRelease.first_day) == window.first,
        col(PrivacyRelease.last_day) == window.last,
        col(PrivacyRelease.resolution) == resolution,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def values_of(session: AsyncSession, release_id: uuid.UUID) -> dict[tuple[int, int], Released]:
    """A stored release's figures by (cell, to_cell); ``to_cell`` is 0 for cells."""
    rows = await session.execute(
        sa.select(
            col(ReleasedValue.cell),
            col(ReleasedValue.to_cell),
            col(ReleasedValue.contributors),
            col(ReleasedValue.passes),
            col(ReleasedValue.near_misses),
        ).where(col(ReleasedValue.release_id) == release_id)
    )
    return {(cell, to): Released(people, passes, near) for cell, to, people, passes, near in rows}


async def store_values(
    session: AsyncSession, release_id: uuid.UUID, values: Mapping[tuple[int, int], Released]
) -> None:
    if not values:
        return
    rows = [
        {
            "release_id": release_id,
            "cell": cell,
            "to_cell": to,
            "contributors": v.contributors,
            "passes": v.passes,
            "near_misses": v.near_misses,
        }
        for (cell, to), v in values.items()
    ]
    for start in range(0, len(rows), 5_000):
        await session.execute(sa.insert(ReleasedValue), rows[start : start + 5_000])


async def spent(session: AsyncSession, months: Sequence[date]) -> dict[date, float]:
    """The privacy loss already charged to each of ``months``."""
    rows = await session.execute(
        sa.select(col(LedgerEntry.month), sa.func.sum(col(LedgerEntry.epsilon)))
        .where(col(LedgerEntry.month).in_(list(months)))
        .group_by(col(LedgerEntry.month))
    )
    return {month: float(total) for month, total in rows}


async def ledger(
    session: AsyncSession, *, limit: int, before: tuple[date, uuid.UUID] | None = None
) -> list[tuple[LedgerEntry, PrivacyRelease]]:
    """The ledger, newest month first, with each entry's release (keyset on (month, id))."""
    stmt = (
        sa.select(LedgerEntry, PrivacyRelease)
        .join(PrivacyRelease, col(PrivacyRelease.id) == col(LedgerEntry.release_id))
        .order_by(col(LedgerEntry.month).desc(), col(LedgerEntry.id).desc())
        .limit(limit)
    )
    if before is not None:
        stmt = stmt.where(sa.tuple_(col(LedgerEntry.month), col(LedgerEntry.id)) < sa.tuple_(*before))
    return [(entry, release) for entry, release in (await session.execute(stmt)).all()]
