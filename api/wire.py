"""Wire types shared by several controllers (camelCase on the wire, unknown fields refused)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.params import QueryParameter

Nickname = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=32,
        pattern=r"^[\w][\w .'-]*[\w.]$",
        description="2 to 32 letters, digits, spaces, dots, apostrophes or dashes; shown on leaderboards",
    ),
]
BirthYear = Annotated[
    int, msgspec.Meta(ge=1900, le=2100, description="year of birth; under 13 needs a guardian")
]


NOT_BLANK = r"[^\x00-\x20\x7f-\xa0]"
"""Some character that is neither a space nor a control character, spelled out: a not-space class
differs between Python (which counts 0x1c-0x1f as spaces) and the ECMA regex of the document."""

RFC3339_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
"""An RFC 3339 time as query parameters take it: the document states both the pattern and the format."""


def time_query(name: str, description: str) -> QueryParameter:
    """A query parameter holding an RFC 3339 time, checked as text (Litestar would read `0.5` as a time)."""
    return QueryParameter(
        name=name,
        max_length=40,
        pattern=RFC3339_PATTERN,
        schema_extra={"format": "date-time"},
        description=description,
    )


class Strict(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Base of every request body: an unknown key is an error, so nothing can be mass-assigned."""


class Out(msgspec.Struct, rename="camel", kw_only=True):
    """Base of every response body."""


class Problem(Out):
    """RFC 9457 problem document, as every error is answered."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None
