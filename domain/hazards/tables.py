"""Hazards and what people say about them: reports, confirmations, and the planners' status history.

A hazard is a place and a category; its representative point is public (rounded
to 5 decimals, about a metre). A report, a confirmation and a status change
belong to a person: they reference the user and go when the user goes, and the
public never sees them one by one, only as counts (docs/hazards.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp, user_fk
from domain.core.enums import Role
from domain.hazards.rules import (
    ACTIVE_STATUSES,
    MAX_DESCRIPTION_LENGTH,
    MAX_PUBLIC_NOTE_LENGTH,
    MAX_SEVERITY,
    MIN_SEVERITY,
    HazardCategory,
    HazardStatus,
)

CELL_MAX = 16
COORDINATE_DECIMALS = 5


def _in(values: type[HazardCategory] | type[HazardStatus] | type[Role]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


_ACTIVE = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_STATUSES))
_SEVERITY_RANGE = f"BETWEEN {MIN_SEVERITY} AND {MAX_SEVERITY}"


class Hazard(SQLModel, table=True):
    """One danger spot: at most one active hazard per (cell, category), enforced by a partial unique index."""

    __tablename__ = "hazard"
    __table_args__ = (
        sa.CheckConstraint(f"category IN ({_in(HazardCategory)})", name="ck_hazard_category"),
        sa.CheckConstraint(f"status IN ({_in(HazardStatus)})", name="ck_hazard_status"),
        sa.CheckConstraint(f"severity {_SEVERITY_RANGE}", name="ck_hazard_severity"),
        sa.CheckConstraint(
            "report_count >= 0 AND confirmation_count >= 0 AND dispute_count >= 0", name="ck_hazard_counts"
        ),
        sa.Index(
            "uq_hazard_active_cell_category",
            "cell",
            "category",
            unique=True,
            postgresql_where=sa.text(f"status IN ({_ACTIVE})"),
        ),
        sa.Index("ix_hazard_created_id", "created_at", "id"),
        sa.Index("ix_hazard_lat_lon", "lat", "lon"),
    )

    id: uuid.UUID = id_field()
    category: str = Field(max_length=32)
    cell: str = Field(max_length=CELL_MAX)
    lat: float
    lon: float
    status: str = Field(default=HazardStatus.OPEN.value, max_length=16)
    severity: int
    report_count: int = 0
    confirmation_count: int = 0
    dispute_count: int = 0
    public_note: str | None = Field(default=None, max_length=MAX_PUBLIC_NOTE_LENGTH)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    last_confirmed_at: datetime | None = timestamp(nullable=True, default_now=False)


class HazardTombstone(SQLModel, table=True):
    """A published hazard deleted with its last report (an erased account, a deleted ride), and when.

    Only the id, so that the NGSI-LD broker can be told to delete its Alert
    (``domain.opendata.broker``); retention removes tombstones after 30 days.
    """

    __tablename__ = "hazard_tombstone"

    hazard_id: uuid.UUID = Field(primary_key=True)
    deleted_at: datetime = timestamp(index=True)


def _hazard_fk() -> sa.Column[uuid.UUID]:
    return sa.Column(sa.Uuid(), sa.ForeignKey("hazard.id", ondelete="CASCADE"), nullable=False)


class HazardReport(SQLModel, table=True):
    """One person's observation of a hazard, and only one: a repeat updates it (one person, one voice).

    No coordinates are kept: the hazard's cell and point say where.
    `ride_id`/`ride_offset_s` tie a near miss to the moment of a ride; the
    foreign key to the ride table is added by the rides migration.
    """

    __tablename__ = "hazard_report"
    __table_args__ = (
        sa.UniqueConstraint("hazard_id", "user_id", name="uq_hazard_report_user"),
        sa.CheckConstraint(f"category IN ({_in(HazardCategory)})", name="ck_hazard_report_category"),
        sa.CheckConstraint(f"severity {_SEVERITY_RANGE}", name="ck_hazard_report_severity"),
        sa.Index("ix_hazard_report_user_created", "user_id", "created_at"),
        sa.Index("ix_hazard_report_hazard", "hazard_id"),
        sa.Index("ix_hazard_report_ride", "ride_id"),
    )

    id: uuid.UUID = id_field()
    hazard_id: uuid.UUID = Field(sa_column=_hazard_fk())
    user_id: uuid.UUID = user_fk(index=False)
    category: str = Field(max_length=32)
    severity: int
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    observed_at: datetime = timestamp()
    created_at: datetime = timestamp()
    ride_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("ride.id", ondelete="CASCADE"), nullable=True),
    )
    ride_offset_s: int | None = Field(default=None)


class HazardConfirmation(SQLModel, table=True):
    """`still_there` true confirms, false disputes; one per user and hazard, the database says so."""

    __tablename__ = "hazard_confirmation"
    __table_args__ = (sa.UniqueConstraint("hazard_id", "user_id", name="uq_hazard_confirmation_user"),)

    id: uuid.UUID = id_field()
    hazard_id: uuid.UUID = Field(sa_column=_hazard_fk())
    user_id: uuid.UUID = user_fk()
    still_there: bool
    created_at: datetime = timestamp()


class HazardStatusChange(SQLModel, table=True):
    """A planner's triage step. The planner is kept for the city's audit (and forgotten with
    their account); the public sees only the role, the time and the note."""

    __tablename__ = "hazard_status_change"
    __table_args__ = (
        sa.CheckConstraint(f"from_status IN ({_in(HazardStatus)})", name="ck_hazard_status_change_from"),
        sa.CheckConstraint(f"to_status IN ({_in(HazardStatus)})", name="ck_hazard_status_change_to"),
        sa.CheckConstraint(f"changed_by_role IN ({_in(Role)})", name="ck_hazard_status_change_role"),
        sa.Index("ix_hazard_status_change_hazard_time", "hazard_id", "changed_at"),
    )

    id: uuid.UUID = id_field()
    hazard_id: uuid.UUID = Field(sa_column=_hazard_fk())
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    changed_by: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    changed_by_role: str = Field(max_length=16)
    public_note: str | None = Field(default=None, max_length=MAX_PUBLIC_NOTE_LENGTH)
    changed_at: datetime = timestamp()
