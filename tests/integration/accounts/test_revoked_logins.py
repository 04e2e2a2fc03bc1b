"""A revoked login ends its access tokens at once: reuse detection and logout, on every app instance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Register

Client = AsyncTestClient[Litestar]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_replayed_refresh_token_ends_the_access_tokens_of_that_login(
    client: Client, register: Register
) -> None:
    account = await register()
    assert (await client.get("/me", headers=account.auth)).status_code == 200
    rotated = (await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})).json()
    assert (await client.get("/me", headers=_bearer(rotated["accessToken"]))).status_code == 200

    replay = await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    assert replay.json()["type"].endswith("refresh-token-reused")

    for token in (account.access_token, rotated["accessToken"]):
        after = await client.get("/me", headers=_bearer(token))
        assert after.status_code == 401, after.text
        assert after.json()["type"].endswith("login-revoked")
    # a write with the old token is refused as well, before anything is stored
    patched = await client.patch("/me", json={"nickname": "Thief"}, headers=account.auth)
    assert patched.status_code == 401


async def test_other_logins_of_the_same_user_keep_working(client: Client, register: Register) -> None:
    account = await register("twodevices")
    other = (
        await client.post("/auth/login", json={"handle": "twodevices", "password": "correct horse battery"})
    ).json()
    await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    assert (await client.get("/me", headers=account.auth)).status_code == 401
    assert (await client.get("/me", headers=_bearer(other["accessToken"]))).status_code == 200


async def test_logout_ends_the_access_token_of_that_login(client: Client, register: Register) -> None:
    account = await register()
    out = await client.post(
        "/auth/logout", json={"refreshToken": account.refresh_token}, headers=account.auth
    )
    assert out.status_code == 204
    after = await client.get("/me", headers=account.auth)
    assert after.status_code == 401
    assert after.json()["type"].endswith("login-revoked")


async def test_the_revocation_reaches_another_instance_on_the_same_database_at_once(
    client: Client, register: Register, make_app: Callable[..., Any]
) -> None:
    """Two app instances share nothing but PostgreSQL: the check is the database's, not a worker's memory."""
    account = await register()
    async with AsyncTestClient(app=make_app()) as other_instance:
        assert (await other_instance.get("/me", headers=account.auth)).status_code == 200
        await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
        await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
        assert (await other_instance.get("/me", headers=account.auth)).status_code == 401
