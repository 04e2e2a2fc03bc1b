"""Storage limitation (GDPR art. 5(1)(e)): what is removed, and when.

- Per-ride detail: the cell sequence of every ride that started more than
  `retention_days` ago. Its contribution already lives in the per-user daily
  aggregates (written at upload, no trace detail), so planners' maps keep it
  and an account erase still removes it; the ride summary (distance, mode,
  minute of start) stays for the user's own history and points.
- Expired technical records: idempotency answers past their expiry, refresh
  tokens expired or dead for more than a week, class join codes expired or
  revoked for more than a week, guardian codes that expired without ever
  being used (a used code stays: the guardian erases the child's account
  with it), rate-limit counters older than a day, and hazard tombstones (the
  ids of deleted hazards the broker must forget) older than 30 days.

Everything runs in batches so a first run on a large database neither holds
long locks nor one huge transaction; `progress` is told after every batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

BATCH = 5000
GRACE = timedelta(days=7)
TOMBSTONES_KEPT = timedelta(days=30)
"""How long a deleted hazard's id is kept for the broker (``saferoutes ngsi-push`` re-sends them)."""


@dataclass
class RetentionReport:
    cutoff: datetime
    removed: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        self.removed[kind] = self.removed.get(kind, 0) + count


# (kind, statement deleting at most :batch rows;
#  parameters :cutoff, :now, :grace_before, :day_before, :month_before)
_RULES: tuple[tuple[str, str], ...] = (
    (
        "ride_cell",
        "DELETE FROM ride_cell WHERE ctid IN (SELECT rc.ctid FROM ride_cell rc"
        " JOIN ride r ON r.id = rc.ride_id WHERE r.started_at < :cutoff LIMIT :batch)",
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
    """Apply every retention rule once; each batch is its own short transaction."""
    report = RetentionReport(cutoff=now - timedelta(days=retention_days))
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
