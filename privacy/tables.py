"""The tables privacy owns: consent records, privacy zones and guardian codes.

Each belongs to a person and cascades with their account. A consent record is
append-only: the history demonstrates who consented to what, when, under which
policy text. A privacy zone's centre is the user's own data (they typed it):
it is shown only to them, included in their export and erased with them. A
guardian code is stored as a keyed hash only (`domain.core.codes`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp, user_fk
from domain.core.enums import ConsentGiver, ConsentPurpose

MAX_PRIVACY_ZONES = 10
CODE_HASH_LENGTH = 64


def _in(values: type[ConsentPurpose] | type[ConsentGiver]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class ConsentRecord(SQLModel, table=True):
    """An append-only grant or withdrawal: who, which purpose, which policy text, when, given by whom."""

    __tablename__ = "consent_record"
    __table_args__ = (
        sa.CheckConstraint(f"purpose IN ({_in(ConsentPurpose)})", name="ck_consent_record_purpose"),
        sa.CheckConstraint(f"given_by IN ({_in(ConsentGiver)})", name="ck_consent_record_given_by"),
        sa.Index("ix_consent_record_user_purpose_time", "user_id", "purpose", "recorded_at"),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = user_fk(index=False)
    purpose: str = Field(max_length=32)
    granted: bool
    policy_version: str = Field(max_length=32)
    recorded_at: datetime = timestamp()
    given_by: str = Field(default=ConsentGiver.SELF.value, max_length=16)
    guardian_relationship: str | None = Field(default=None, max_length=32)


class PrivacyZoneRecord(SQLModel, table=True):
    """A circle where none of the user's traces are kept (home, school, work)."""

    __tablename__ = "privacy_zone"

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = user_fk()
    lat: float
    lon: float
    radius_m: float
    created_at: datetime = timestamp()


class GuardianCode(SQLModel, table=True):
    """The code a child hands to a guardian.

    Before `used_at` it lets an anonymous guardian consent, once, until
    `expires_at`. After that first consent it stays valid, for guardian
    management only (such as erasing the child's account), until a newer code
    replaces it (`revoked_at`) or the child's account is erased.
    """

    __tablename__ = "guardian_code"

    id: uuid.UUID = id_field()
    child_id: uuid.UUID = user_fk()
    code_hash: str = Field(max_length=CODE_HASH_LENGTH, unique=True)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False)
    used_at: datetime | None = timestamp(nullable=True, default_now=False)
    revoked_at: datetime | None = timestamp(nullable=True, default_now=False)
