"""Column helpers shared by every table, so that types agree across the schema."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


CLOCK: ContextVar[Clock] = ContextVar("saferoutes_clock", default=system_clock)
"""The clock in force. The system's, unless the app was made with another (``create_app(clock=...)``
sets it for each request it serves): the tests run every layer on a fixed moment this way, without
threading a clock through every use case that asks ``utcnow()``."""


def utcnow() -> datetime:
    """Now, in UTC, by the clock in force."""
    return CLOCK.get()()


def id_field() -> Any:
    return Field(default_factory=uuid.uuid4, primary_key=True)


def user_fk(*, nullable: bool = False, index: bool = True) -> Any:
    """A reference to the owning user that disappears with the user (erase by cascade)."""
    return Field(
        sa_column=sa.Column(
            sa.Uuid(),
            sa.ForeignKey("app_user.id", ondelete="CASCADE"),
            nullable=nullable,
            index=index,
        )
    )


def timestamp(*, nullable: bool = False, index: bool = False, default_now: bool = True) -> Any:
    if default_now:
        return Field(
            default_factory=utcnow,
            sa_type=sa.DateTime(timezone=True),
            nullable=nullable,
            index=index,
        )
    return Field(default=None, sa_type=sa.DateTime(timezone=True), nullable=nullable, index=index)
