"""The SQL of the history tables' monthly partitions: list them, make them ahead, drop expired ones.

The months come from ``domain.core.partitions``. Making or dropping a
partition takes an ACCESS EXCLUSIVE lock on its parent for a moment; both
wait at most ``LOCK_TIMEOUT`` for it, so a long planner export delays the
maintenance (it tries again on its next run) instead of queueing every
upload behind it. Nothing depends on a partition being there: a row of a
month without one goes to the default partition, and the next maintenance
moves it into the month's own partition.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.core import partitions as months
from domain.core.locks import lock_key
from domain.core.partitions import HISTORY, MONTHS_AHEAD, PartitionedTable

log = logging.getLogger(__name__)

LOCK_TIMEOUT = "3s"
_LOCK = lock_key("partition-maintenance")

_CHILDREN = sa.text(
    """
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' AS is_default
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass(:parent) AND EXISTS (
      SELECT 1 FROM pg_partitioned_table p WHERE p.partrelid = i.inhparent)
    """
)
_PARTITIONED = sa.text(
    "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:parent))"
)


@dataclass(frozen=True, slots=True)
class Layout:
    """One partitioned table's monthly partitions and whether it has its default partition."""

    months: tuple[date, ...]
    default: bool


@dataclass
class Maintenance:
    created: list[str] = field(default_factory=list)
    moved: int = 0
    """Rows moved out of a default partition into their month's new partition."""
    skipped: list[str] = field(default_factory=list)
    """Tables whose parent lock was not had within ``LOCK_TIMEOUT`` (their next run will do it)."""


def _lock_timeout(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == "55P03" or "lock timeout" in str(error.orig)


async def is_partitioned(conn: AsyncConnection, table: PartitionedTable) -> bool:
    return bool((await conn.execute(_PARTITIONED, {"parent": table.name})).scalar_one())


async def layout(conn: AsyncConnection, table: PartitionedTable) -> Layout:
    found = (await conn.execute(_CHILDREN, {"parent": table.name})).all()
    monthly = sorted(m for name, _ in found if (m := months.month_of(table.name, name)) is not None)
    return Layout(tuple(monthly), any(is_default for _, is_default in found))


def _month_key(table: PartitionedTable, alias: str = "") -> str:
    column = f"{alias}{table.column}"
    if table.instant:
        return f"date_trunc('month', {column} AT TIME ZONE 'UTC')::date"
    return f"date_trunc('month', {column})::date"


async def months_in_default(conn: AsyncConnection, table: PartitionedTable) -> list[date]:
    query = f"SELECT DISTINCT {_month_key(table)} FROM {table.default}"  # noqa: S608 - constant names
    return sorted((await conn.execute(sa.text(query))).scalars())


def create_statement(table: PartitionedTable, month: date) -> str:
    return (
        f"CREATE TABLE {table.partition(month)} PARTITION OF {table.name}"
        f" FOR VALUES FROM ({table.bound(month)}) TO ({table.bound(months.month_end(month))})"
    )


def default_statement(table: PartitionedTable) -> str:
    return f"CREATE TABLE {table.default} PARTITION OF {table.name} DEFAULT"


async def create_months(conn: AsyncConnection, table: PartitionedTable, wanted: list[date]) -> int:
    """Create the partitions of ``wanted`` (none may exist yet); return the rows moved into them
    from the default partition. Holds the parent's lock until the transaction ends."""
    if not wanted:
        return 0
    held = set(await months_in_default(conn, table)) & set(wanted)
    if not held:
        for month in wanted:
            await conn.execute(sa.text(create_statement(table, month)))
        return 0
    # a new partition may not overlap rows the default one holds: take it out, make the months,
    # route its rows of those months through the parent, put it back
    await conn.execute(sa.text(f"ALTER TABLE {table.name} DETACH PARTITION {table.default}"))
    for month in wanted:
        await conn.execute(sa.text(create_statement(table, month)))
    moved = 0
    for month in sorted(held):
        lo, hi = table.bound(month), table.bound(months.month_end(month))
        result = await conn.execute(
            sa.text(
                f"WITH gone AS (DELETE FROM {table.default} WHERE {table.column} >= {lo}"  # noqa: S608
                f" AND {table.column} < {hi} RETURNING *) INSERT INTO {table.name} SELECT * FROM gone"
            )
        )
        moved += result.rowcount
    await conn.execute(sa.text(f"ALTER TABLE {table.name} ATTACH PARTITION {table.default} DEFAULT"))
    return moved


async def maintain(
    engine: AsyncEngine,
    *,
    today: date,
    ahead: int = MONTHS_AHEAD,
    tables: tuple[PartitionedTable, ...] = HISTORY,
) -> Maintenance:
    """Make this month's and the next ``ahead`` months' partitions of every history table, and one
    for every month whose rows sit in a default partition; one short transaction per table.

    Costs one catalog read per table when nothing is missing (the service runs it at start).
    """
    report = Maintenance()
    for table in tables:
        async with engine.connect() as conn:
            if not await is_partitioned(conn, table):
                continue
            present = await layout(conn, table)
            missing = sorted(set(months.wanted(today, ahead)) - set(present.months))
            if not missing and (not present.default or not await months_in_default(conn, table)):
                continue
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
                present = await layout(conn, table)
                wanted = set(months.wanted(today, ahead))
                if present.default:
                    wanted |= set(await months_in_default(conn, table))
                missing = sorted(wanted - set(present.months))
                report.moved += await create_months(conn, table, missing)
                report.created += [table.partition(m) for m in missing]
        except DBAPIError as error:
            if not _lock_timeout(error):
                raise
            log.warning("partitions of %s not made: its lock was busy (the next run will)", table.name)
            report.skipped.append(table.name)
    return report


async def drop_expired(
    engine: AsyncEngine, table: PartitionedTable, *, cutoff: datetime
) -> tuple[list[str], list[str]]:
    """Drop every monthly partition of ``table`` whose month ended at or before ``cutoff``.

    Returns (dropped, busy): a partition whose parent was locked for longer than
    ``LOCK_TIMEOUT`` stays, and its rows go row by row with the rest.
    """
    async with engine.connect() as conn:
        if not await is_partitioned(conn, table):
            return [], []
        expired = months.wholly_expired((await layout(conn, table)).months, cutoff)
    dropped: list[str] = []
    busy: list[str] = []
    for month in expired:
        name = table.partition(month)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                await conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
            dropped.append(name)
        except DBAPIError as error:
            if not _lock_timeout(error):
                raise
            busy.append(name)
    return dropped, busy
