"""The audit log of planner exports: who took which figures out of the system, when, and how many cells.

An audit row is written and committed *before* the first byte of an export
leaves (status ``started``), then completed with the number of cells actually
sent (``completed``), or marked ``aborted`` with the cells sent so far when the
client goes away or the stream fails. So a crash mid-stream cannot lose the
record that an export began, with its parameters: the upper bound of what left.

``actor_id`` is the planner's (or admin's) user id: personal data of the
planner, kept for the city's accountability. It is set to NULL when that
account is erased (ON DELETE SET NULL) so that the audit itself survives;
``actor_role`` still says what kind of account it was. Exports run from the
command line have no account: ``actor_role`` is ``cli``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp
from domain.planner.rules import ExportKind, ExportStatus


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class ExportAudit(SQLModel, table=True):
    """One export: parameters as given (no personal data in them), and how many cells left."""

    __tablename__ = "export_audit"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN ({_in(ExportKind)})", name="ck_export_audit_kind"),
        sa.CheckConstraint(f"status IN ({_in(ExportStatus)})", name="ck_export_audit_status"),
        sa.Index("ix_export_audit_started_id", "started_at", "id"),
    )

    id: uuid.UUID = id_field()
    actor_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    actor_role: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    parameters: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    status: str = Field(default=ExportStatus.STARTED.value, max_length=16)
    cell_count: int | None = Field(default=None)
    started_at: datetime = timestamp()
    finished_at: datetime | None = timestamp(nullable=True, default_now=False)
