"""Rate limits across the real two-worker service: one count in PostgreSQL, keyed on the user.

A burst from many connections lands on both worker processes; were the counts
kept per process, each worker would let `limit` through and the burst would
pass twice over. Login and registration are counted per handle and per client
address, and a client cannot pick its own address with X-Forwarded-For unless
a trusted proxy is configured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.system.cluster import Service
from tests.system.conftest import PASSWORD, StartService, citizen, create_staff

WRITES_PER_MINUTE = 15
LOGINS_PER_MINUTE = 4
REGISTRATIONS_PER_HOUR = 40


@pytest.fixture(scope="module")
def service(start_service: StartService) -> Iterator[Service]:
    return start_service(
        workers=2,
        SAFEROUTES_RATE_LIMIT_PER_MINUTE=str(WRITES_PER_MINUTE),
        SAFEROUTES_LOGIN_ATTEMPTS_PER_MINUTE=str(LOGINS_PER_MINUTE),
        SAFEROUTES_REGISTER_PER_HOUR=str(REGISTRATIONS_PER_HOUR),
    )


def _assert_rate_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    # the windows slide: a window spent on its own must also fade out of the next one (at most 2 h)
    assert 1 <= int(answer.headers["retry-after"]) <= 2 * 3600


async def test_a_burst_across_workers_lets_exactly_the_limit_through_per_user(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        alice = await citizen(http, ("hazard_reporting",))
        bob = await citizen(http, ("hazard_reporting",))
        # the guard counts before the body is read, so even refused bodies count
        burst = await asyncio.gather(
            *(
                http.post("/hazards", json={}, headers={**alice, "Idempotency-Key": f"burst-{i:04d}"})
                for i in range(WRITES_PER_MINUTE * 3)
            )
        )
        limited = [a for a in burst if a.status_code == 429]
        assert len(burst) - len(limited) == WRITES_PER_MINUTE, sorted(a.status_code for a in burst)
        for answer in limited:
            _assert_rate_limited(answer)
        # another user is not affected: the key is the user, not the address
        other = await http.post("/hazards", json={}, headers={**bob, "Idempotency-Key": "bob-00001"})
        assert other.status_code != 429, other.text


async def test_login_brute_force_is_stopped_even_with_spoofed_forwarding_headers(service: Service) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        handle = f"victim{int(time.time() * 1000) % 10**9}"
        registered = await http.post("/auth/register", json={"handle": handle, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        guesses = await asyncio.gather(
            *(
                http.post(
                    "/auth/login",
                    json={"handle": handle, "password": f"wrong guess {i}"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                )
                for i in range(LOGINS_PER_MINUTE * 3)
            )
        )
        statuses = sorted(a.status_code for a in guesses)
        assert statuses.count(401) == LOGINS_PER_MINUTE, statuses
        for answer in guesses:
            if answer.status_code == 429:
                _assert_rate_limited(answer)
        # the right password does not get through the lock either, until the window passes
        _assert_rate_limited(await http.post("/auth/login", json={"handle": handle, "password": PASSWORD}))


async def test_registrations_are_counted_per_client_address_not_per_forwarded_header(
    service: Service,
) -> None:
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    "/auth/register",
                    json={"handle": f"flood{i}x{int(time.time()) % 100000}", "password": PASSWORD},
                    headers={"X-Forwarded-For": f"198.51.100.{i % 250}"},
                )
                for i in range(REGISTRATIONS_PER_HOUR + 10)
            )
        )
    created = [a for a in answers if a.status_code == 201]
    limited = [a for a in answers if a.status_code == 429]
    # earlier tests in this module registered some accounts from the same address (127.0.0.1)
    assert len(created) <= REGISTRATIONS_PER_HOUR
    assert len(limited) >= 10
    for answer in limited:
        _assert_rate_limited(answer)


async def test_a_class_enrols_with_its_join_code_from_an_address_whose_allowance_is_spent(
    service: Service,
) -> None:
    """Registrations with a valid join code are bounded per code, on both workers, not per address."""
    admin = create_staff(service, "admin")
    async with httpx.AsyncClient(base_url=service.base_url, timeout=60) as http:
        made = await http.post(
            "/schools",
            json={"name": "Sint-Jan", "lat": 51.0259, "lon": 4.4776},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert made.status_code == 201, made.text
        teacher = create_staff(service, "teacher", made.json()["id"])
        created = await http.post(
            f"/schools/{made.json()['id']}/classes",
            json={"name": "5B"},
            headers={"Authorization": f"Bearer {teacher}"},
        )
        code = created.json()["joinCode"]
        plain = await http.post(
            "/auth/register", json={"handle": f"walkin{time.time_ns() % 10**9}", "password": PASSWORD}
        )
        _assert_rate_limited(plain)  # the earlier tests spent this address's hour
        pupils = await asyncio.gather(
            *(
                http.post(
                    "/auth/register",
                    json={
                        "handle": f"pupil{i}x{time.time_ns() % 10**6}",
                        "password": PASSWORD,
                        "birthYear": 2016,
                        "joinCode": code,
                    },
                )
                for i in range(REGISTRATIONS_PER_HOUR + 5)
            )
        )
    assert [a.status_code for a in pupils] == [201] * (REGISTRATIONS_PER_HOUR + 5), [a.text for a in pupils]
