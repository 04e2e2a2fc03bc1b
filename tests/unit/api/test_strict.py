"""The one strict decoder of request bodies: declared types, each key once, no NUL."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from litestar.exceptions import ValidationException

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
        (b'{"granted": true, "severity": 2.0}', "severity"),
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


def test_repeated_keys_are_found_at_any_depth_and_equal_keys_in_sibling_objects_are_fine() -> None:
    check_keys_and_text(b'[{"a": 1}, {"a": 2}, {"b": {"a": 3}}]')
    with pytest.raises(ValidationException, match="invalid"):
        check_keys_and_text(b'[{"a": 1}, {"b": {"c": 1, "c": 2}}]')


def test_nul_in_a_key_is_refused_too() -> None:
    with pytest.raises(ValidationException) as refused:
        check_keys_and_text(b'{"outer": [{"a\\u0000": 1}]}')
    assert "outer[0].a" in str(refused.value.extra)
