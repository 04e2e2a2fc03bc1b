"""Keyset pagination shared by every list endpoint.

Lists answer `{items, nextCursor}`; `nextCursor` is the sort key of the last
item, `<microseconds since 1970>_<id as 32 hex digits>`, stable under inserts,
unlike offsets. The OpenAPI document states that format exactly, and any
string of it is a valid place to continue from, so a client (or a schema
fuzzer) can never send a well-formed cursor that is refused.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Final, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
CURSOR_PATTERN: Final = r"^[0-9]{1,17}_[0-9a-f]{32}$"
"""At most 17 digits: up to the year 5138, so every cursor of this form is a valid time."""

# declare as `limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None`
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[
    str | None,
    QueryParameter(
        pattern=CURSOR_PATTERN,
        max_length=50,
        description="nextCursor of the previous page: <µs since 1970>_<id>",
    ),
]


class Page(msgspec.Struct, Generic[T], rename="camel", kw_only=True):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(moment: datetime, item_id: uuid.UUID) -> str:
    """The cursor after the item sorted at (`moment`, `item_id`)."""
    micros = (moment - EPOCH) // _MICROSECOND
    if micros < 0:
        raise ValueError("list items are sorted by times after 1970")
    return f"{micros}_{item_id.hex}"


def decode_time_id_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (timestamp, id) sort key of `encode_cursor`; the query parameter's pattern checked its form."""
    if cursor is None:
        return None
    micros, _, hex_id = cursor.partition("_")
    return EPOCH + int(micros) * _MICROSECOND, uuid.UUID(hex=hex_id)
