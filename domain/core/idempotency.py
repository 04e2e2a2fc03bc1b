"""Idempotency keys: a retried upload returns the first answer and creates nothing new.

The claim is an INSERT … ON CONFLICT DO NOTHING inside the use case's own
transaction, so the database, not timing, decides: a concurrent duplicate
waits on the unique key until the first transaction commits, then reads the
stored answer; if the first rolled back, the duplicate's claim succeeds.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from domain.core import sql as pg
from domain.core.columns import timestamp, utcnow
from domain.core.errors import InvalidInput

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{8,128}$")
HEADER = "Idempotency-Key"
DEFAULT_TTL = timedelta(hours=48)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"

    user_id: uuid.UUID = Field(
        sa_column=sa.Column(sa.Uuid(), sa.ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    )
    scope: str = Field(max_length=32, primary_key=True)
    key: str = Field(max_length=128, primary_key=True)
    request_hash: str = Field(max_length=64)
    status_code: int | None = Field(default=None)
    response: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    created_at: datetime = timestamp()
    expires_at: datetime = timestamp(default_now=False, index=True)


# Every upload runs these two: plain SQL on the session's asyncpg connection (see domain.core.sql).
_CLAIM = pg.sql(
    """
    WITH locked AS (SELECT pg_advisory_xact_lock(:lock) WHERE CAST(:lock AS bigint) IS NOT NULL)
    INSERT INTO idempotency_record (user_id, scope, key, request_hash, created_at, expires_at)
    SELECT CAST(:user_id AS uuid), CAST(:scope AS varchar), CAST(:key AS varchar),
           CAST(:request_hash AS varchar), CAST(:created_at AS timestamptz), CAST(:expires_at AS timestamptz)
    FROM (SELECT count(*) FROM locked) AS after_the_lock
    ON CONFLICT DO NOTHING RETURNING 1
    """
)
_COMPLETE = pg.sql(
    "UPDATE idempotency_record SET status_code = :status_code, response = :response"
    " WHERE user_id = :user_id AND scope = :scope AND key = :key"
)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def request_fingerprint(body: bytes, content_type: str = "") -> str:
    return hashlib.sha256(content_type.encode() + b"\x00" + body).hexdigest()


def check_key(key: str | None) -> str:
    if key is None:
        raise InvalidInput(
            HEADER, f"The {HEADER} header is required for uploads.", code="idempotency-key-missing"
        )
    if not KEY_PATTERN.match(key):
        raise InvalidInput(
            HEADER,
            f"The {HEADER} must be 8 to 128 printable ASCII characters.",
            code="idempotency-key-invalid",
        )
    return key


async def claim(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    scope: str,
    key: str,
    fingerprint: str,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
    lock: int | None = None,
) -> StoredResponse | None:
    """Claim `key` for this request; None means go ahead, else the earlier answer to replay.

    `lock`, if given, is a transaction-level advisory lock the use case takes
    anyway, taken first in the same round trip.
    """
    now = now or utcnow()
    values = {
        "lock": lock,
        "user_id": user_id,
        "scope": scope,
        "key": key,
        "request_hash": fingerprint,
        "created_at": now,
        "expires_at": now + ttl,
    }
    if await pg.fetchrow(session, _CLAIM, **values) is not None:
        return None
    existing = (
        await session.execute(
            sa.select(IdempotencyRecord)
            .where(
                IdempotencyRecord.user_id == user_id,  # type: ignore[arg-type]
                IdempotencyRecord.scope == scope,  # type: ignore[arg-type]
                IdempotencyRecord.key == key,  # type: ignore[arg-type]
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if existing.expires_at <= now:
        # an expired key is free again: take it over for this request
        existing.request_hash = fingerprint
        existing.status_code = None
        existing.response = None
        existing.created_at = now
        existing.expires_at = now + ttl
        await session.flush()
        return None
    if existing.request_hash != fingerprint:
        raise InvalidInput(
            HEADER,
            f"This {HEADER} was already used for a different request body.",
            code="idempotency-key-reused",
        )
    if existing.status_code is None or existing.response is None:
        # the earlier attempt committed without an answer, which complete() prevents; be explicit anyway
        raise InvalidInput(
            HEADER,
            "The earlier request with this key has no stored answer.",
            code="idempotency-key-incomplete",
        )
    return StoredResponse(existing.status_code, existing.response)


async def complete(
    session: AsyncSession, *, user_id: uuid.UUID, scope: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    """Store the answer in the same transaction as the effect it describes."""
    response = msgspec.json.encode(body).decode()
    await pg.execute(
        session, _COMPLETE, user_id=user_id, scope=scope, key=key, status_code=status_code, response=response
    )
