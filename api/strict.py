"""Every JSON request body is judged strictly, by one decoder: types as declared, each key once, no NUL.

Litestar decodes a body into generic JSON and then converts it to the
handler's type *leniently*: ``{"granted": 1}`` and ``{"granted": "true"}``
became a consent grant, ``"2"`` a severity. Its decoder also lets the last of
two equal keys win, so ``{"granted": false, "granted": true}`` was a grant, and
a proxy that reads the first key and the service that reads the last one saw
two different requests. `StrictRequest` is the app's request class: it decodes
a body straight into the type the handler declares (``data: JSONBody[T]``),
with msgspec's strict rules, before Litestar's conversion sees it, so every
write endpoint, including any added later, gets the same judgement. Bodies a
handler reads itself (``POST /rides``, Open311's form or JSON) go through
`decode` or `check_keys_and_text` here too.

A refusal is a 400 problem document naming the field (`api.problems`).
PostgreSQL cannot store the NUL character, so a string holding one is refused
here, as the OpenAPI document states (`api.openapi`), instead of failing in
the database.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.types import Empty

T = TypeVar("T")

NUL_ESCAPE = b"\\u0000"
"""A JSON text can carry NUL only escaped: raw control characters are invalid JSON."""


def _refused(field: str, message: str) -> ValidationException:
    """Worded like msgspec's errors, so `api.problems` names `field` the same way."""
    return ValidationException(
        "The request body is invalid.", extra=[{"message": f"{message} - at `$.{field}`"}]
    )


class _Object(list[tuple[str, Any]]):
    """A JSON object as its key-value pairs in document order, repeated keys included."""


def _fault(value: Any, path: str) -> tuple[str, str] | None:
    """The path and the fault of the first repeated key, or key or text holding NUL, in `value`."""
    if isinstance(value, str):
        return (path, _NUL) if "\x00" in value else None
    if isinstance(value, _Object):
        seen: set[str] = set()
        for key, item in value:
            here = f"{path}.{key}" if path else key
            if key in seen:
                return here, f"Object repeats the key `{key}`; send each key once"
            if "\x00" in key:
                return here, _NUL
            seen.add(key)
            found = _fault(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _fault(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


_NUL = "Text may not contain the NUL character (\\u0000)"


def _json_number(text: str) -> int | float:
    """A JSON number with no fractional part is an integer, as JSON Schema says: ``2.0`` and ``2e3`` are."""
    exact = Decimal(text)
    return int(exact) if exact.is_finite() and exact == exact.to_integral_value() else float(text)


def _plain(value: Any) -> Any:
    if isinstance(value, _Object):
        return {key: _plain(item) for key, item in value}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _parse(body: bytes) -> Any:
    """The JSON text as pairs (repeats kept), refused when it repeats a key or holds NUL in a string."""
    try:
        value = json.loads(body, object_pairs_hook=_Object, parse_float=_json_number)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            raise ValidationException("The request body is nested too deeply.") from None
        raise ValidationException("The body is not valid JSON.") from None
    found = _fault(value, "")
    if found is not None:
        raise _refused(*found)
    return value


def check_keys_and_text(body: bytes) -> None:
    """Refuse a JSON body in which an object repeats a key, or a string holds NUL (400, naming the path)."""
    _parse(body)


def decode(body: bytes, into: type[T]) -> T:
    """`body` as an instance of `into`, strictly: no coercion, unknown keys as the type says, each key once.

    Keys and text are checked first, so a repeated key is named even in a body
    that also misses a field. The only liberty is JSON's own: a number without
    a fraction (``2.0``) is an integer.
    """
    try:
        return msgspec.convert(_plain(_parse(body)), into, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationException("The request body is invalid.", extra=[{"message": str(exc)}]) from None


class StrictRequest(Request[Any, Any, Any]):
    """The app's request class: `json()` decodes into the handler's declared body type (see the module)."""

    async def json(self) -> Any:
        declared = self.route_handler.parsed_data_field
        if declared is None:
            return await super().json()
        if self._json is Empty:
            self._json = decode(await self.body() or b"null", declared.annotation)
        return self._json
