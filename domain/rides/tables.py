"""Rides as stored: a summary, a cell sequence and per-user aggregates.

Minimisation is structural: no table here has a column that could hold a raw
GPS fix. A ride is kept as H3 cells (BIGINT, the compact form of an H3 index)
with coarse timing; the start time is floored to the minute.

The aggregates are kept per user and per UTC day rather than as bare totals:
- distinct contributors stay exact when a ride is deleted (a user's row goes
  when their last ride through the cell goes) and when an account is erased
  (the rows cascade with the user, no recount needed);
- exports can keep only the users whose `research_sharing` consent is
  effective *at export time* by joining, instead of trusting a snapshot;
- planners can pick a time window.
The cell paths and both aggregates are range-partitioned by month
(``domain.core.partitions``): a window reads only its months, and the
retention job drops a month of paths whole.
Motorised rides are stored for their owner but add no exposure.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp, user_fk
from geo.classify import TravelMode

EXPOSURE_MODES = (TravelMode.WALK, TravelMode.BIKE)

_ALL_MODES = ", ".join(f"'{m.value}'" for m in TravelMode)
_EXPOSURE_MODES = ", ".join(f"'{m.value}'" for m in EXPOSURE_MODES)


def _ride_fk() -> sa.Column[uuid.UUID]:
    return sa.Column(sa.Uuid(), sa.ForeignKey("ride.id", ondelete="CASCADE"), primary_key=True)


def _cascading_user_pk() -> sa.Column[uuid.UUID]:
    return sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)


class Ride(SQLModel, table=True):
    """One recorded trip: what the owner sees in their list, without any coordinate."""

    __tablename__ = "ride"
    __table_args__ = (
        sa.CheckConstraint(f"mode IN ({_ALL_MODES})", name="ck_ride_mode"),
        sa.Index("ix_ride_user_started", "user_id", "started_at", "id"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = user_fk(index=False)
    mode: str = Field(max_length=16)
    distance_m: float
    duration_s: int
    # the first kept fix's time, floored to the minute
    started_at: datetime = timestamp(default_now=False)
    resolution: int = Field(sa_type=sa.SmallInteger)
    cell_count: int
    segment_count: int = Field(sa_type=sa.SmallInteger)
    trimmed_m: float
    point_count: int
    kept_point_count: int
    incidents_filed: int = Field(default=0, sa_type=sa.SmallInteger)
    created_at: datetime = timestamp()
    # anti-cheat (gamification.anticheat): a flagged ride earns nothing and counts in no standing
    fingerprint: str | None = Field(default=None, max_length=64, index=True)
    flagged: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false())
    )
    flags: list[str] = Field(
        default_factory=list,
        sa_column=sa.Column(postgresql.ARRAY(sa.String(16)), nullable=False, server_default="{}"),
    )


class RideCell(SQLModel, table=True):
    """One cell visit of a ride, in ride order; `segment` numbers the connected paths.

    Range-partitioned by month of the ride's start (copied from ``ride``), so the
    retention job drops a month's paths whole (migration 0016, docs/privacy.md).
    """

    __tablename__ = "ride_cell"
    __table_args__ = (
        sa.PrimaryKeyConstraint("ride_id", "seq", "started_at", name="ride_cell_pkey"),
        {"postgresql_partition_by": "RANGE (started_at)"},
    )

    ride_id: uuid.UUID = Field(sa_column=_ride_fk())
    seq: int = Field(primary_key=True)
    cell: int = Field(sa_type=sa.BigInteger)
    segment: int = Field(sa_type=sa.SmallInteger)
    # seconds after the ride's started_at, and the mean window speed in the cell
    offset_s: int
    speed_mps: float = Field(sa_type=sa.REAL)
    # inserted by grid_path_cells to bridge a gap between two fixes
    filled: bool = False
    # the ride's started_at: the partition key
    started_at: datetime = Field(sa_type=sa.DateTime(timezone=True), primary_key=True)


class CellExposure(SQLModel, table=True):
    """How many of one user's rides of one mode passed through a cell on a day (distinct rides)."""

    __tablename__ = "cell_exposure"
    __table_args__ = (
        sa.CheckConstraint(f"mode IN ({_EXPOSURE_MODES})", name="ck_cell_exposure_mode"),
        sa.CheckConstraint("rides > 0", name="ck_cell_exposure_rides"),
        # user first: an upload's rows share a few index pages (migration 0012)
        sa.PrimaryKeyConstraint("user_id", "day", "mode", "cell", name="cell_exposure_pkey"),
        {"postgresql_partition_by": "RANGE (day)"},
    )

    cell: int = Field(sa_type=sa.BigInteger, primary_key=True)
    day: date = Field(primary_key=True)
    mode: str = Field(max_length=8, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=_cascading_user_pk())
    rides: int


class CellTransition(SQLModel, table=True):
    """How often one user's rides of one mode went from a cell to its neighbour on a day."""

    __tablename__ = "cell_transition"
    __table_args__ = (
        sa.CheckConstraint(f"mode IN ({_EXPOSURE_MODES})", name="ck_cell_transition_mode"),
        sa.CheckConstraint("traversals > 0", name="ck_cell_transition_traversals"),
        sa.PrimaryKeyConstraint(
            "user_id", "day", "mode", "from_cell", "to_cell", name="cell_transition_pkey"
        ),
        {"postgresql_partition_by": "RANGE (day)"},
    )

    from_cell: int = Field(sa_type=sa.BigInteger, primary_key=True)
    to_cell: int = Field(sa_type=sa.BigInteger, primary_key=True)
    day: date = Field(primary_key=True)
    mode: str = Field(max_length=8, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=_cascading_user_pk())
    traversals: int
