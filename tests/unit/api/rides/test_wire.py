"""`parse_upload` on JSON: epoch seconds take the direct path, RFC 3339 times the general one, and
both give the same points; whatever is refused is refused with the field's path."""

from __future__ import annotations

import msgspec
import pytest
from litestar.exceptions import ValidationException

from api.rides.wire import parse_upload
from geo.points import TracePoint

EPOCH = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _body(points: list[dict[str, object]], incidents: list[dict[str, object]] | None = None) -> bytes:
    return msgspec.json.encode({"points": points, **({"incidents": incidents} if incidents else {})})


def test_epoch_and_rfc3339_times_give_the_same_points() -> None:
    epoch = parse_upload(
        _body([{"lat": 51.02, "lon": 4.47, "t": EPOCH, "accuracy": 4.5}]), "application/json"
    )
    iso = parse_upload(
        _body([{"lat": 51.02, "lon": 4.47, "t": "2026-01-01T01:00:00+01:00", "accuracy": 4.5}]),
        "application/json",
    )
    for upload in (epoch, iso):
        (point,) = upload.points
        assert isinstance(point, TracePoint)
        assert (point.lat, point.lon, point.t, point.accuracy) == (51.02, 4.47, EPOCH, 4.5)


def test_incidents_come_through_the_direct_path() -> None:
    incident = {"t": EPOCH + 1, "lat": 51.02, "lon": 4.47, "category": "near_miss", "severity": 2}
    upload = parse_upload(_body([{"lat": 51.02, "lon": 4.47, "t": EPOCH}], [incident]), "application/json")
    (filed,) = upload.incidents
    assert (filed.t, filed.category, filed.severity, filed.description) == (EPOCH + 1, "near_miss", 2, None)


@pytest.mark.parametrize(
    ("point", "says"),
    [
        ({"lat": 51.0, "lon": 4.4, "t": EPOCH, "speed": 3}, "unknown field `speed` - at `$.points[0]`"),
        ({"lat": "51.0", "lon": 4.4, "t": EPOCH}, "Expected `float`, got `str` - at `$.points[0].lat`"),
        ({"lat": 51.0, "lon": 4.4, "t": "yesterday"}, "at `$.points[0].t`"),
        ({"lat": 51.0, "lon": 4.4, "t": "2026-01-01T00:00:00"}, "at `$.points[0].t`"),  # no offset
    ],
)
def test_a_bad_point_is_refused_with_its_path(point: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationException) as refused:
        parse_upload(_body([point]), "application/json")
    assert says in str(refused.value.extra)


def test_broken_json_is_refused_as_such() -> None:
    with pytest.raises(ValidationException, match="not valid JSON"):
        parse_upload(b'{"points": [', "application/json")


@pytest.mark.parametrize(
    "body",
    [
        # the direct path: numbers only, then with a null and with an escape in it
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1, "t": 2}, {"lat": 51.0, "lon": 4.4, "t": 3}]}',
        b'{"points": [{"lat": 51.0, "lat": 9.0, "lon": 4.4, "t": 1, "accuracy": null}]}',
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1, "l\\u0061t": 9.0}]}',
        b'{"points": [], "points": [{"lat": 51.0, "lon": 4.4, "t": 1}]}',
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1}], "incidents": [], "incidents": []}',
        # with incidents, and the general path (RFC 3339 times)
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1}], "incidents": [{"t": 1, "lat": 51.0, "lon": 4.4,'
        b' "category": "close_pass", "severity": 1, "severity": 3}]}',
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": "2026-01-01T00:00:00Z", "lon": 5.0}]}',
    ],
)
def test_a_repeated_key_is_refused_on_every_path(body: bytes) -> None:
    with pytest.raises(ValidationException) as refused:
        parse_upload(body, "application/json")
    assert "repeats the key" in str(refused.value.extra)


def test_uploads_without_a_repeated_key_pass_the_key_check() -> None:
    for body in (
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1, "accuracy": null},'
        b' {"lat": 51.0, "lon": 4.4, "t": 2}]}',
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1, "accuracy": 3}], "incidents": []}',
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1}], "incidents": [{"t": 1, "lat": 51.0, "lon": 4.4,'
        b' "category": "close_pass", "severity": 1, "description": "lat\\" lon"}]}',
    ):
        assert parse_upload(body, "application/json").points


def test_nul_in_an_incident_text_is_refused_with_its_path() -> None:
    body = (
        b'{"points": [{"lat": 51.0, "lon": 4.4, "t": 1}], "incidents": [{"t": 1, "lat": 51.0, "lon": 4.4,'
        b' "category": "close_pass", "severity": 1, "description": "a\\u0000b"}]}'
    )
    with pytest.raises(ValidationException) as refused:
        parse_upload(body, "application/json")
    assert "at `$.incidents[0].description`" in str(refused.value.extra)
