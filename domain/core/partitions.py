"""Monthly range partitions of the history tables: which exist, which to make, which may go.

Pure month arithmetic and names; the SQL that applies them is
``domain.core.partition_store``. Every partitioned table is split by UTC
calendar month of one column (a ``date`` or a ``timestamptz``), holds one
partition per month named ``<table>_pYYYY_MM`` plus ``<table>_default``, which
catches a row of a month whose partition does not exist yet, so a write
never fails for want of one (the maintenance moves such rows into their
month's partition when it creates it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final


@dataclass(frozen=True, slots=True)
class PartitionedTable:
    """A table range-partitioned by month of ``column``: a ``date``, or a ``timestamptz`` if ``instant``."""

    name: str
    column: str
    instant: bool = False

    @property
    def default(self) -> str:
        return f"{self.name}_default"

    def partition(self, month: date) -> str:
        return partition_name(self.name, month)

    def bound(self, month: date) -> str:
        """The SQL literal of the first value of ``month`` in this table's key."""
        start = month_start(month)
        return f"'{start.isoformat()} 00:00:00+00'" if self.instant else f"'{start.isoformat()}'"


RIDE_CELL: Final = PartitionedTable("ride_cell", "started_at", instant=True)
CELL_EXPOSURE: Final = PartitionedTable("cell_exposure", "day")
CELL_TRANSITION: Final = PartitionedTable("cell_transition", "day")
HISTORY: Final = (RIDE_CELL, CELL_EXPOSURE, CELL_TRANSITION)

MONTHS_AHEAD: Final = 3
"""Partitions made ahead of today's month: a quarter, so a maintenance run missed for weeks costs
nothing (rows would still land, in the default partition)."""

_NAME: Final = re.compile(r"^(?P<table>\w+)_p(?P<year>\d{4})_(?P<month>\d{2})$")


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return date(day.year, day.month, 1)


def add_months(month: date, count: int) -> date:
    """The first day of the month ``count`` months after ``month``'s (before it when negative)."""
    index = month.year * 12 + (month.month - 1) + count
    return date(index // 12, index % 12 + 1, 1)


def month_end(month: date) -> date:
    """The first day after ``month``'s month: the exclusive upper bound of its partition."""
    return add_months(month, 1)


def months(first: date, last: date) -> Iterator[date]:
    """Every month from ``first``'s to ``last``'s, both included (none when ``last`` is earlier)."""
    month, stop = month_start(first), month_start(last)
    while month <= stop:
        yield month
        month = add_months(month, 1)


def wanted(today: date, ahead: int = MONTHS_AHEAD) -> list[date]:
    """The months whose partitions should exist by ``today``: its own and the next ``ahead``."""
    return list(months(today, add_months(today, ahead)))


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def month_of(table: str, partition: str) -> date | None:
    """The month a partition of ``table`` named by :func:`partition_name` holds, else None."""
    found = _NAME.match(partition)
    if found is None or found["table"] != table:
        return None
    month = int(found["month"])
    return date(int(found["year"]), month, 1) if 1 <= month <= 12 else None


def is_partition(name: str, tables: Iterable[PartitionedTable] = HISTORY) -> bool:
    """Whether ``name`` is one of the history tables' partitions, which the service makes and
    drops by itself: the models describe the parents only (for Alembic's comparison)."""
    return any(name == t.default or month_of(t.name, name) is not None for t in tables)


def wholly_expired(existing: Iterable[date], cutoff: datetime) -> list[date]:
    """The months that end at or before ``cutoff`` (an aware instant): every row of their partitions,
    dated before the month's end, is older than the cut-off, so each may be dropped whole.

    A month that ends after the cut-off holds rows on both sides of it, or only
    newer ones: its expired rows must go one by one.
    """
    return sorted(m for m in existing if _midnight_utc(month_end(m)) <= cutoff)


def partly_expired(existing: Iterable[date], cutoff: datetime) -> list[date]:
    """The months that straddle ``cutoff``: they begin before it and end after it."""
    return sorted(m for m in existing if _midnight_utc(m) < cutoff < _midnight_utc(month_end(m)))


def _midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
