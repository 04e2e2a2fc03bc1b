"""Storage limitation (GDPR art. 5(1)(e)): what is removed, and when.

- Per-ride detail: the cell sequence of every ride that started more than
  `retention_days` ago. Its contribution already lives in the per-user daily
  aggregates (written at upload, no trace detail), so planners' maps keep it
  and an account erase still removes it; the ride summary (distance, mode,
  minute of start) stays for the user's own history and points.
  ``ride_cell`` is partitioned by month of the ride's start: a month that
  ended before the cut-off is dropped whole (one catalog operation, whatever
  its size), and the expired rides of the month the cut-off falls in (or of
  the default partition) are deleted row by row, so exactly the paths older
  than the cut-off go, as before. The job first makes the coming months'
  partitions (``domain.core.partition_store.maintain``).
- Expired technical records: idempotency answers past their expiry, refresh
  tokens expired or dead for more than a week, class join codes expired or
  revoked for more than a week, guardian codes that expired without ever
  being used (a used code stays: the guardian erases the child's account
  with it), rate-limit counters older than a day, and hazard tombstones (the
  ids of deleted hazards the broker must forget) older than 30 days.

Everything else runs in batches so a first run on a large database neither holds
long locks nor one huge transaction; `progress` is told after every batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core import partition_store
from domain.core.partitions import RIDE_CELL

BATCH = 5000
GRACE = timedelta(days=7)
TOMBSTONES_KEPT = timedelta(days=30)
"""How long a deleted hazard's id is kept for the broker (``saferoutes ngsi-push`` re-sends them)."""


@dataclass
class RetentionReport:
    cutoff: datetime
    removed: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    """Whole partitions dropped (their rows are not counted in ``removed``)."""
    created: list[str] = field(default_factory=list)
    """Partitions made ahead by the maintenance that runs first."""

    def add(self, kind: str, count: int) -> None:
        self.removed[kind] = self.removed.get(kind, 0) + count


# (kind, statement deleting at most :batch rows;
#  parameters :cutoff, :now, :grace_before, :day_before, :month_before)
_RULES: tuple[tuple[str, str], ...] = (
    (
        "ride_cell",
        # by key: a ctid is unique only within one partition
        "DELETE FROM ride_cell WHERE started_at < :cutoff AND (ride_id, seq, started_at) IN"
        " (SELECT ride_id, seq, started_at FROM ride_cell WHERE started_at < :cutoff LIMIT :batch)",
    ),
    (
        "idempotency_record",
        "DELETE FROM idempotency_record WHERE ctid IN"
        " (SELECT ctid FROM idempotency_record WHERE expires_at < :now LIMIT :batch)",
    ),
    (
        "refresh_token",
        "DELETE FROM refresh_token WHERE ctid IN (SELECT ctid FROM refresh_token WHERE expires_at < :now"
        " OR revoked_at < :grace_before OR used_at < :grace_before LIMIT :batch)",
    ),
    (
        "class_join_code",
        "DELETE FROM class_join_code WHERE ctid IN (SELECT ctid FROM class_join_code"
        " WHERE expires_at < :grace_before OR revoked_at < :grace_before LIMIT :batch)",
    ),
    (
        "guardian_code",
        "DELETE FROM guardian_code WHERE ctid IN (SELECT ctid FROM guardian_code"
        " WHERE used_at IS NULL AND (expires_at < :now OR revoked_at IS NOT NULL) LIMIT :batch)",
    ),
    (
        "hazard_tombstone",
        "DELETE FROM hazard_tombstone WHERE ctid IN"
        " (SELECT ctid FROM hazard_tombstone WHERE deleted_at < :month_before LIMIT :batch)",
    ),
    (
        "rate_limit_bucket",
        "DELETE FROM rate_limit_bucket WHERE ctid IN"
        " (SELECT ctid FROM rate_limit_bucket WHERE window_start < :day_before LIMIT :batch)",
    ),
)


async def apply(
    engine: AsyncEngine,
    *,
    now: datetime,
    retention_days: int,
    batch: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
) -> RetentionReport:
    """Make the coming months' partitions, drop the wholly expired months of cell paths, then apply
    every retention rule once; each batch is its own short transaction."""
    report = RetentionReport(cutoff=now - timedelta(days=retention_days))
    report.created = (await partition_store.maintain(engine, today=now.astimezone(UTC).date())).created
    report.dropped, _ = await partition_store.drop_expired(engine, RIDE_CELL, cutoff=report.cutoff)
    params = {
        "cutoff": report.cutoff,
        "now": now,
        "grace_before": now - GRACE,
        "day_before": now - timedelta(days=1),
        "month_before": now - TOMBSTONES_KEPT,
        "batch": batch,
    }
    for kind, statement in _RULES:
        while True:
            async with engine.begin() as conn:
                deleted = (await conn.execute(sa.text(statement), params)).rowcount
            report.add(kind, deleted)
            if progress is not None:
                progress(kind, report.removed[kind])
            if deleted < batch:
                break
    return report
