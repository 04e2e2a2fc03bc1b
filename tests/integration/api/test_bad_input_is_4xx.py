"""Inputs that used to be 500s are 4xx problem documents, and a 500's log line quotes no request value."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.problems import PROBLEM_MEDIA_TYPE
from domain.core.enums import Role
from tests.clock import session_clock
from tests.integration.conftest import Register
from tests.integration.ride_helpers import Client, key, ride_gpx, ride_json, simulated, upload
from tests.integration.school_helpers import school, staff

NUL_NAME = "Sint-Jan\x00Mechelen"


def _is_problem(answer: Any, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)


async def test_nul_in_a_login_handle_is_a_400(client: Client) -> None:
    answer = await client.post(
        "/auth/login", json={"handle": "anna\x00", "password": "correct horse battery"}
    )
    _is_problem(answer, 400)
    assert answer.json()["errors"][0]["field"] == "handle"


async def test_nul_in_school_class_and_challenge_names_is_a_400(client: Client) -> None:
    admin = await staff(client)
    school_id = await school(client, admin)
    teacher = await staff(client, Role.TEACHER, school_id)
    now = session_clock()
    for path, body, who in (
        ("/schools", {"name": NUL_NAME, "lat": 51.02, "lon": 4.47}, admin),
        (f"/schools/{school_id}/classes", {"name": "5\x00B"}, teacher),
        (
            "/challenges",
            {
                "scope": "school",
                "scopeId": school_id,
                "metric": "trips",
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(days=7)).isoformat(),
                "name": "Fiets\x00maand",
            },
            teacher,
        ),
    ):
        answer = await client.post(path, json=body, headers=who.auth)
        _is_problem(answer, 400)
        assert answer.json()["errors"][0]["field"] == "name", path


async def test_a_ride_at_minus_1e12_seconds_is_a_422(client: Client, register: Register) -> None:
    rider = await register(consents=("ride_tracking",))
    points = [{"lat": 51.0259, "lon": 4.4776, "t": -1e12}, {"lat": 51.026, "lon": 4.4777, "t": -1e12 + 5}]
    answer = await upload(client, rider.auth, {"points": points})
    _is_problem(answer, 422)
    assert answer.json()["type"].endswith("outside-upload-window")


@pytest.mark.parametrize("encoding", ["UTF-7", "UTF-32", "x-made-up"])
async def test_a_gpx_in_an_unreadable_encoding_is_a_422(
    client: Client, register: Register, encoding: str
) -> None:
    rider = await register(consents=("ride_tracking",))
    gpx = ride_gpx([simulated(2).points[:20]]).replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    headers = {**rider.auth, **key(), "Content-Type": "application/gpx+xml"}
    answer = await client.post("/rides", content=gpx, headers=headers)
    _is_problem(answer, 422)
    assert answer.json()["errors"][0]["field"] == "gpx"


async def test_an_unexpected_error_is_logged_without_the_request_values(
    client: Client, register: Register, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A database error quotes the statement's parameters; the log line must not."""
    handle = "secret-handle-4711"

    async def broken_lookup(session: AsyncSession, value: str) -> None:
        await session.execute(sa.text("SELECT CAST(:value AS integer)"), {"value": value})

    monkeypatch.setattr("domain.accounts.service.find_by_handle", broken_lookup)
    with caplog.at_level(logging.ERROR, logger="saferoutes.errors"):
        answer = await client.post("/auth/login", json={"handle": handle, "password": "51.0259,4.4776"})
    _is_problem(answer, 500)
    [record] = [r for r in caplog.records if r.name == "saferoutes.errors"]
    logged = record.getMessage() + repr(record.__dict__)
    assert "DataError" in logged or "InvalidTextRepresentation" in logged
    assert handle not in logged
    assert "51.0259" not in logged
    assert record.exc_info is None


async def test_a_ride_body_with_coordinates_never_reaches_the_error_log(
    client: Client, register: Register, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rider = await register(consents=("ride_tracking",))
    ride = simulated(5)

    def explode(*args: Any, **kwargs: Any) -> None:
        raise ValueError(f"cannot place {ride.points[3].lat!r},{ride.points[3].lon!r}")

    monkeypatch.setattr("domain.rides.service.process_trace", explode)
    with caplog.at_level(logging.ERROR, logger="saferoutes.errors"):
        answer = await upload(client, rider.auth, ride_json(ride.points))
    _is_problem(answer, 500)
    logged = " ".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert "ValueError" in logged
    assert repr(ride.points[3].lat) not in logged
