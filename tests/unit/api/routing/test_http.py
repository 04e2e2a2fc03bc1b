"""The strict `lat,lon` parser of GET /routes/safe and the routing settings."""

from __future__ import annotations

import pytest

from api.routing.http import parse_position
from api.settings import SettingsError, load_settings
from domain.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("51.0259,4.4776", (51.0259, 4.4776)), (" -33.9 , 18.4 ", (-33.9, 18.4)), ("90,-180", (90.0, -180.0))],
)
def test_positions_are_latitude_first(raw: str, expected: tuple[float, float]) -> None:
    assert parse_position(raw, "from") == expected


@pytest.mark.parametrize(
    "raw", ["4.4776", "51,4,5", "NaN,4", "1e3,4", "1_0,4", "0x1,4", "91,4", "51,180.5", ""]
)
def test_anything_else_names_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_position(raw, "to")
    assert caught.value.field == "to"


KEY = {"SAFEROUTES_SECRET_KEY": "k" * 40}
"""Given, so that no test makes a key file in the working directory."""


def test_routing_settings_come_from_the_environment() -> None:
    settings = load_settings(
        {
            **KEY,
            "SAFEROUTES_ROUTING_MAX_AGE_S": "60",
            "SAFEROUTES_ROUTING_CHECK_S": "0",
        }
    )
    assert (settings.routing_max_age_s, settings.routing_check_s) == (60, 0)
    assert load_settings(KEY).routing_max_age_s == 300


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAFEROUTES_ROUTING_MAX_AGE_S", "0"),
        ("SAFEROUTES_ROUTING_CHECK_S", "-1"),
    ],
)
def test_routing_settings_refuse_nonsense(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match="ROUTING"):
        load_settings({**KEY, name: value})
