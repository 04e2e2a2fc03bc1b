"""A burst of logins leaves the worker responsive: passwords are checked in a bounded pool, off the
event loop, and with no database connection checked out.

The evidence is ordering, not time: the password checks are held at a gate
(a threading.Event) while other requests run. Had a check run on the event
loop, nothing else could run until the gate opened; had it held a pooled
connection, the one-connection pool would have nothing left for the others.
The requests go through httpx's ASGI transport on the test's own event loop
(Litestar's test client runs the app on a loop of its own, one request at a
time), so they really are in flight together.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncGenerator

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from domain.accounts.rules import Passwords

PASSWORD = "correct horse battery"
WORKERS = 2
LOGINS = 6
PATIENCE_S = 30  # only bounds a hang: nothing here waits for time to pass


class GatedPasswords(Passwords):
    """Passwords whose checks wait at a gate, counting how many are in progress at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_kib=1024, workers=WORKERS)
        self.gate = threading.Event()
        self.in_progress = 0
        self.most_at_once = 0
        self.on_threads: set[str] = set()
        self.started = threading.Semaphore(0)
        self._count = threading.Lock()

    def verify(self, password_hash: str | None, password: str) -> bool:
        with self._count:
            self.in_progress += 1
            self.most_at_once = max(self.most_at_once, self.in_progress)
            self.on_threads.add(threading.current_thread().name)
        self.started.release()
        try:
            if not self.gate.wait(PATIENCE_S):
                raise AssertionError("the gate was never opened: the event loop stood still")
            return super().verify(password_hash, password)
        finally:
            with self._count:
                self.in_progress -= 1


@pytest.fixture
async def one_connection(clean_db: AsyncEngine, settings: Settings) -> AsyncGenerator[Litestar, None]:
    """The app with a real pool of a single connection, as a worker whose pool a burst could drain."""
    app = create_app(
        dataclasses.replace(settings, db_pool_size=1, password_workers=WORKERS), log_config=False
    )
    yield app
    await app.state.engine.dispose()


def _client(app: Litestar) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _register(client: httpx.AsyncClient, handle: str) -> dict[str, str]:
    answer = await client.post("/auth/register", json={"handle": handle, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['accessToken']}"}


async def test_other_requests_are_answered_while_password_checks_run(one_connection: Litestar) -> None:
    app = one_connection
    client = _client(app)
    await _register(client, "target")
    bystander = await _register(client, "bystander")
    gated = GatedPasswords()
    app.state.auth = dataclasses.replace(app.state.auth, passwords=gated)

    logins = [
        asyncio.create_task(client.post("/auth/login", json={"handle": h, "password": "wrong password"}))
        for h in ["target", "nobody"] * (LOGINS // 2)
    ]
    for _ in range(WORKERS):  # every thread of the pool is now checking a password
        assert await asyncio.to_thread(gated.started.acquire, timeout=PATIENCE_S), "the loop stood still"

    # while every hashing thread is busy and the other logins queue for one, the worker answers,
    # including a request that needs the pool's only database connection
    health = await asyncio.wait_for(client.get("/health"), PATIENCE_S)
    me = await asyncio.wait_for(client.get("/me", headers=bystander), PATIENCE_S)
    assert health.status_code == 200
    assert me.status_code == 200, me.text
    assert not any(login.done() for login in logins), "the logins were still waiting for their checks"
    assert gated.in_progress == WORKERS, "no more checks at once than the pool has threads"

    gated.gate.set()
    answers = await asyncio.wait_for(asyncio.gather(*logins), PATIENCE_S)
    assert [a.status_code for a in answers] == [401] * LOGINS
    assert gated.most_at_once == WORKERS
    assert all(name.startswith("argon2") for name in gated.on_threads), gated.on_threads
    gated.close()


async def test_a_right_password_logs_in_through_the_pool(one_connection: Litestar) -> None:
    app = one_connection
    client = _client(app)
    await _register(client, "anna")
    gated = GatedPasswords()
    gated.gate.set()
    app.state.auth = dataclasses.replace(app.state.auth, passwords=gated)
    ok = await client.post("/auth/login", json={"handle": "anna", "password": PASSWORD})
    assert ok.status_code == 200, ok.text
    assert gated.on_threads and all(name.startswith("argon2") for name in gated.on_threads)
    gated.close()
