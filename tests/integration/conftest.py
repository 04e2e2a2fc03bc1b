"""The app under test, an HTTP client, and helpers to make users with consents."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from tests.clock import session_clock

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key=TEST_SECRET,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        register_per_hour=10_000,
        login_attempts_per_minute=10_000,
        rate_limit_per_minute=10_000,
        # releases a handful of seeded people can pass (tau 9, sigma 1.4), at the rides' resolution,
        # with a budget no test spends unless it means to (tests/integration/privacy/test_releases.py)
        privacy_epsilon=10.0,
        release_max_cells=4,
        release_max_passes=4,
        release_resolution=10,
        open_data_resolution=9,
        privacy_budget=1_000_000.0,
    )


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., Litestar]:
    """Build an app with some settings changed, e.g. make_app(login_attempts_per_minute=3)."""

    def build(**changes: Any) -> Litestar:
        return create_app(
            dataclasses.replace(settings, **changes), null_pool=True, log_config=False, clock=session_clock
        )

    return build


@pytest.fixture
async def client(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> AsyncGenerator[AsyncTestClient[Litestar], None]:
    async with AsyncTestClient(app=make_app()) as test_client:
        yield test_client


@dataclasses.dataclass
class Account:
    id: str
    handle: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


Register = Callable[..., Awaitable[Account]]


async def register_account(
    client: AsyncTestClient[Litestar], handle: str, *, consents: tuple[str, ...] = (), **fields: Any
) -> Account:
    """Register `handle` through the API and grant it `consents`; `fields` go into the body."""
    body = {"handle": handle, "password": "correct horse battery", **fields}
    response = await client.post("/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    account = Account(data["user"]["id"], handle, data["accessToken"], data["refreshToken"])
    for purpose in consents:
        granted = await client.put(
            f"/me/consents/{purpose}",
            json={"granted": True, "policyVersion": "2026-01"},
            headers=account.auth,
        )
        assert granted.status_code == 200, granted.text
    return account


@pytest.fixture
def register(client: AsyncTestClient[Litestar]) -> Register:
    counter = iter(range(1_000_000))

    async def make(handle: str | None = None, *, consents: tuple[str, ...] = (), **fields: Any) -> Account:
        return await register_account(client, handle or f"user{next(counter)}", consents=consents, **fields)

    return make


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
