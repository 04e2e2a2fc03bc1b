"""Schools, their teachers, classes, join codes and memberships (guardian codes: `privacy.tables`).

A school and its location are public (planners route children to it). Everything
that ties a person to a school — staff link, membership, guardian code —
references `app_user` with ON DELETE CASCADE, so erasing an account removes it.
A class outlives the teacher who created it (`created_by` is set to NULL), so one
teacher's erasure does not throw a whole class out. Codes are stored as keyed
hashes only (`domain.core.codes`); the plain code is shown once, when it is made.
See docs/schools.md.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp

SCHOOL_NAME_MAX = 120
CLASS_NAME_MAX = 64
CODE_HASH_LENGTH = 64


def _school_fk(*, primary_key: bool = False) -> sa.Column[uuid.UUID]:
    return sa.Column(
        sa.Uuid(),
        sa.ForeignKey("school.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
        index=not primary_key,
    )


class School(SQLModel, table=True):
    """A school; its name and location are public data."""

    __tablename__ = "school"
    __table_args__ = (
        sa.CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="ck_school_lat_lon"),
    )

    id: uuid.UUID = id_field()
    name: str = Field(max_length=SCHOOL_NAME_MAX)
    lat: float
    lon: float
    created_at: datetime = timestamp()


class SchoolStaff(SQLModel, table=True):
    """A teacher works at a school; a teacher may work at several (many Flemish teachers do)."""

    __tablename__ = "school_staff"

    school_id: uuid.UUID = Field(sa_column=_school_fk(primary_key=True))
    user_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )
    created_at: datetime = timestamp()


class SchoolClass(SQLModel, table=True):
    __tablename__ = "school_class"

    id: uuid.UUID = id_field()
    school_id: uuid.UUID = Field(sa_column=_school_fk())
    name: str = Field(max_length=CLASS_NAME_MAX)
    created_by: uuid.UUID | None = Field(
        default=None,
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = timestamp()


class ClassJoinCode(SQLModel, table=True):
    """A code children type to join a class; random, expiring, revocable, one live code per class."""

    __tablename__ = "class_join_code"

    id: uuid.UUID = id_field()
    class_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("school_class.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    code_hash: str = Field(max_length=CODE_HASH_LENGTH, unique=True)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False)
    revoked_at: datetime | None = timestamp(nullable=True, default_now=False)


class ClassMembership(SQLModel, table=True):
    """A user is a member of at most one class at a time (UNIQUE user_id); joining another moves them."""

    __tablename__ = "class_membership"

    class_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("school_class.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True, unique=True
        )
    )
    joined_at: datetime = timestamp()
