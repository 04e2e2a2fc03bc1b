"""Keyset pagination shared by every list endpoint.

Lists answer `{items, nextCursor}`; `nextCursor` is opaque (base64 of the sort
key of the last item) and stable under inserts, unlike offsets.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from domain.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# declare as `limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None`
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[str | None, QueryParameter(max_length=512, description="nextCursor of the previous page")]


class Page(msgspec.Struct, Generic[T], rename="camel", kw_only=True):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([str(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, size: int) -> list[str] | None:
    """The sort key encoded by `encode_cursor`, or a 422 naming `cursor` when it was tampered with."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("cursor", "The cursor is not one this service gave out.") from exc
    if not isinstance(values, list) or len(values) != size or not all(isinstance(v, str) for v in values):
        raise InvalidInput("cursor", "The cursor is not one this service gave out.")
    return values


def decode_time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (timestamp, id) sort key most lists page on, from `encode_cursor(ts.isoformat(), id)`."""
    values = decode_cursor(cursor, size=2)
    if values is None:
        return None
    try:
        return datetime.fromisoformat(values[0]), uuid.UUID(values[1])
    except ValueError as exc:
        raise InvalidInput("cursor", "The cursor is not one this service gave out.") from exc
