"""Accounts and their refresh-token sessions (consent records are privacy's: `privacy.tables`)."""

from __future__ import annotations

import os
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from domain.core.columns import id_field, timestamp, user_fk
from domain.core.enums import Role

HANDLE_MAX = 32
NICKNAME_MAX = 32


def _in(values: type[Role]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class User(SQLModel, table=True):
    """A person using SafeRoutes. No email, no real name: a handle and a nickname."""

    __tablename__ = "app_user"
    __table_args__ = (sa.CheckConstraint(f"role IN ({_in(Role)})", name="ck_app_user_role"),)

    id: uuid.UUID = id_field()
    handle: str = Field(max_length=HANDLE_MAX)
    # casefolded handle: what uniqueness and login compare, so "Anna" and "anna" are one account
    handle_key: str = Field(max_length=HANDLE_MAX, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.CITIZEN.value, max_length=16)
    birth_year: int | None = Field(default=None)
    nickname: str = Field(max_length=NICKNAME_MAX)
    # secret per user; seeds the randomised start/end trimming radius of rides
    privacy_seed: bytes = Field(default_factory=lambda: os.urandom(32), sa_type=sa.LargeBinary)
    created_at: datetime = timestamp()


class RefreshToken(SQLModel, table=True):
    """One refresh token of a login session; only its hash is stored.

    All tokens descending from one login share a `family_id`, so that the reuse
    of a rotated token can revoke the whole family at once.
    """

    __tablename__ = "refresh_token"
    # what every authenticated request asks: is this login revoked? (service.caller_of_token)
    __table_args__ = (
        sa.Index(
            "ix_refresh_token_revoked_family", "family_id", postgresql_where=sa.text("revoked_at IS NOT NULL")
        ),
    )

    id: uuid.UUID = id_field()
    user_id: uuid.UUID = user_fk()
    family_id: uuid.UUID = Field(index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False, index=True)
    used_at: datetime | None = timestamp(nullable=True, default_now=False)
    revoked_at: datetime | None = timestamp(nullable=True, default_now=False)
