"""The statements planner exports read: per-cell and per-flow figures at a resolution, consented only.

Each aggregates the per-user daily rows in SQL and is read through a
server-side cursor (`fetched_rows` bridges it to the sync encoders).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession
from sqlalchemy.util import await_

from domain.core.enums import ConsentPurpose
from domain.danger.store import COVER_RESOLUTION, cell_stats_statement, cover_cells, parent_cell_sql, table_of
from domain.planner.rules import ExportKind, ExportQuery
from domain.rides.tables import CellTransition
from geo.cells import BBox
from privacy.consent.store import effective_consent_subquery

FETCH_ROWS: Final = 2_000


def flow_stats_statement(
    *,
    resolution: int,
    bbox: BBox | None,
    since: datetime | None,
    until: datetime | None,
    today: Any,
    min_contributors: int,
) -> sa.Select[int, int, int, int]:
    """``(src, dst, traversals, contributors)`` between distinct parents at ``resolution``, k-filtered."""
    tr = table_of(CellTransition).alias("t")
    src, dst = parent_cell_sql(tr.c.from_cell, resolution), parent_cell_sql(tr.c.to_cell, resolution)
    people = sa.func.count(sa.distinct(tr.c.user_id))
    stmt = (
        sa.select(src, dst, sa.cast(sa.func.sum(tr.c.traversals), sa.Integer), sa.cast(people, sa.Integer))
        .where(
            src != dst, tr.c.user_id.in_(effective_consent_subquery(ConsentPurpose.RESEARCH_SHARING, today))
        )
        .group_by(src, dst)
        .having(people >= min_contributors)
        .order_by(src, dst)
    )
    if since is not None:
        stmt = stmt.where(tr.c.day >= since.date())
    if until is not None:
        stmt = stmt.where(tr.c.day <= until.date())
    if bbox is not None:
        cover = sa.bindparam("cover", cover_cells(bbox), type_=sa.ARRAY(sa.BigInteger))
        stmt = stmt.where(parent_cell_sql(tr.c.from_cell, COVER_RESOLUTION) == sa.func.any(cover))
    return stmt


def export_statement(query: ExportQuery, *, k: int, now: datetime) -> sa.Select[int, int, int, int]:
    window: dict[str, Any] = {
        "resolution": query.resolution,
        "bbox": query.bbox,
        "since": query.since,
        "until": query.until,
        "today": now.astimezone(UTC).date(),
        "min_contributors": k,
    }
    if query.kind is ExportKind.FLOWS:
        return flow_stats_statement(**window)
    return cell_stats_statement(research_only=True, **window)


async def count_rows(session: AsyncSession, query: ExportQuery, *, k: int, now: datetime) -> int:
    """How many rows the export's query yields (before the exact bbox rule): the CLI's progress total."""
    stmt = export_statement(query, k=k, now=now).order_by(None).subquery()
    return int((await session.execute(sa.select(sa.func.count()).select_from(stmt))).scalar_one())


def fetched_rows(result: AsyncResult[int, int, int, int]) -> Iterator[Any]:
    """Rows of an async cursor for sync code running under ``greenlet_spawn``."""
    while batch := await_(result.fetchmany(FETCH_ROWS)):
        yield from batch
