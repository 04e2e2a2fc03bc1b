"""Releases as stored: each one made once, its noisy figures kept, and the privacy-loss ledger.

A window (dataset, days, resolution) is released once and served again from
here: asking twice returns the same noise, so it cannot be averaged away.
The ledger records what each release cost, per calendar month it touches;
the monthly budget is read from it. None of these rows names a person whose
data went in: ``actor_id`` is the planner (or admin) who asked, kept for the
city's accountability like the export audit, and set to NULL when that
account is erased.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp


class Dataset(StrEnum):
    CELLS = "cells"
    """Per cell: people who passed and passes (walk and bike), from ``cell_exposure``."""
    FLOWS = "flows"
    """Per ordered pair of adjacent cells: people and passages, from ``cell_transition``."""


def _in(values: type[StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class PrivacyRelease(SQLModel, table=True):
    """One release: what it covers, the parameters and calibration it was made with, what it cost."""

    __tablename__ = "privacy_release"
    __table_args__ = (
        sa.CheckConstraint(f"dataset IN ({_in(Dataset)})", name="ck_privacy_release_dataset"),
        sa.UniqueConstraint(
            "dataset", "first_day", "last_day", "resolution", name="uq_privacy_release_window"
        ),
    )

    id: uuid.UUID = id_field()
    dataset: str = Field(max_length=16)
    first_day: date
    last_day: date
    resolution: int = Field(sa_type=sa.SmallInteger)
    epsilon: float
    delta: float
    calibration: dict[str, Any] = Field(sa_column=sa.Column(JSONB, nullable=False))
    key_count: int
    created_at: datetime = timestamp()
    actor_id: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
    )
    actor_role: str = Field(max_length=16)


class ReleasedValue(SQLModel, table=True):
    """One shown key of a release and its noisy figures (``to_cell`` is 0 for a cell)."""

    __tablename__ = "privacy_release_value"

    release_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("privacy_release.id", ondelete="CASCADE"), primary_key=True
        )
    )
    cell: int = Field(sa_type=sa.BigInteger, primary_key=True)
    to_cell: int = Field(sa_type=sa.BigInteger, primary_key=True, default=0)
    contributors: int
    passes: int
    near_misses: int = 0


class LedgerEntry(SQLModel, table=True):
    """What one release cost one calendar month (a release of several months has a row for each)."""

    __tablename__ = "privacy_ledger"
    __table_args__ = (sa.Index("ix_privacy_ledger_month", "month"),)

    id: uuid.UUID = id_field()
    release_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("privacy_release.id", ondelete="CASCADE"), nullable=False
        )
    )
    month: date
    epsilon: float
    delta: float
    charged_at: datetime = timestamp()
