"""The one strict decoder of request bodies: declared types, each key once, no NUL."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated

import msgspec
import pytest
from litestar.exceptions import ValidationException

from api.pagination import CURSOR_PATTERN, decode_time_id_cursor, encode_cursor
from api.problems import _field_of
from api.strict import check_keys_and_text, decode
from api.wire import Strict


class Consent(Strict):
    granted: bool
    severity: Annotated[int, msgspec.Meta(ge=1, le=3)] = 1
    note: str | None = None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"granted": 1}', "granted"),
        (b'{"granted": "true"}', "granted"),
        (b'{"granted": null}', "granted"),
        (b'{"granted": true, "severity": "2"}', "severity"),
        (b'{"granted": true, "severity": 2.5}', "severity"),
        (b'{"granted": 1.0}', "granted"),
        (b'{"granted": true, "severity": true}', "severity"),
        (b'{"granted": false, "granted": true}', "granted"),
        (b'{"granted": true, "note": "a\\u0000b"}', "note"),
        (b'{"granted": true, "extra": 1}', "extra"),
    ],
)
def test_a_loose_body_is_refused_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(ValidationException) as refused:
        decode(body, Consent)
    (message,) = refused.value.extra  # type: ignore[misc]
    assert _field_of(message) == field


def test_a_strict_body_decodes_into_its_type() -> None:
    assert decode(b'{"granted": true, "severity": 3, "note": "ok"}', Consent) == Consent(
        granted=True, severity=3, note="ok"
    )


def test_a_number_without_a_fraction_is_an_integer_as_json_schema_says() -> None:
    assert decode(b'{"granted": false, "severity": 2.0}', Consent).severity == 2
    assert decode(b'{"granted": false, "severity": 3e0}', Consent).severity == 3


def test_repeated_keys_are_found_at_any_depth_and_equal_keys_in_sibling_objects_are_fine() -> None:
    check_keys_and_text(b'[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]')
    with pytest.raises(ValidationException, match="invalid"):
        check_keys_and_text(b'[{"a": 1}, {"b": {"c": 1, "c": 2}}]')


def test_nul_in_a_key_is_refused_too() -> None:
    with pytest.raises(ValidationException) as refused:
        check_keys_and_text(b'{"outer": [{"a\\u0000": 1}]}')
    assert "outer[0].a" in str(refused.value.extra)


def test_every_cursor_of_the_documented_form_is_a_place_to_continue_from() -> None:
    moment = datetime(2026, 3, 10, 9, 30, 0, 123456, tzinfo=UTC)
    item = uuid.uuid4()
    cursor = encode_cursor(moment, item)
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert decode_time_id_cursor(cursor) == (moment, item)
    for edge in ("0_" + "0" * 32, "9" * 17 + "_" + "f" * 32):
        assert decode_time_id_cursor(edge) is not None
