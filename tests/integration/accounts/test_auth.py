"""Accounts and tokens through HTTP: register, login, refresh rotation and reuse, logout, token attacks."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import jwt
from argon2 import extract_parameters
from litestar import Litestar
from litestar.testing import AsyncTestClient

from domain.accounts.rules import Passwords
from domain.accounts.service import create_user, find_by_handle
from tests.clock import session_clock
from tests.integration.conftest import TEST_SECRET, Register

Client = AsyncTestClient[Litestar]


def _claims(account_token: str) -> dict[str, Any]:
    return jwt.decode(account_token, options={"verify_signature": False})


def _forge(claims: dict[str, Any], *, key: str = TEST_SECRET, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


async def test_register_returns_profile_and_a_working_token_pair(client: Client, register: Register) -> None:
    account = await register("Anna", birthYear=1990, nickname="Anna the Swift")
    me = await client.get("/me", headers=account.auth)
    assert me.status_code == 200
    body = me.json()
    assert body["handle"] == "Anna"
    assert body["nickname"] == "Anna the Swift"
    assert body["roles"] == ["citizen"]
    assert body["isChild"] is False
    assert {c["purpose"] for c in body["consents"]} == {
        "ride_tracking",
        "hazard_reporting",
        "leaderboard",
        "research_sharing",
    }
    assert "passwordHash" not in body and "privacySeed" not in body


async def test_register_gives_a_nickname_when_none_is_chosen(client: Client, register: Register) -> None:
    account = await register("noname")
    me = (await client.get("/me", headers=account.auth)).json()
    assert me["nickname"] and me["nickname"] != "noname"


async def test_handles_are_unique_regardless_of_case(client: Client, register: Register) -> None:
    await register("Anna")
    response = await client.post("/auth/register", json={"handle": "aNNA", "password": "another password"})
    assert response.status_code == 409
    assert response.json()["type"].endswith("handle-taken")


async def test_login_is_case_insensitive_and_rejects_a_wrong_password(
    client: Client, register: Register
) -> None:
    await register("Bart")
    ok = await client.post("/auth/login", json={"handle": "BART", "password": "correct horse battery"})
    assert ok.status_code == 200
    assert ok.json()["accessToken"]
    wrong = await client.post("/auth/login", json={"handle": "bart", "password": "wrong horse battery"})
    unknown = await client.post("/auth/login", json={"handle": "nobody", "password": "correct horse battery"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["content-type"].startswith("application/problem+json")


async def test_refresh_rotates_and_the_old_token_dies(client: Client, register: Register) -> None:
    account = await register()
    first = await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    assert first.status_code == 200
    new_pair = first.json()
    assert new_pair["refreshToken"] != account.refresh_token
    assert (
        await client.get("/me", headers={"Authorization": f"Bearer {new_pair['accessToken']}"})
    ).status_code == 200
    second = await client.post("/auth/refresh", json={"refreshToken": new_pair["refreshToken"]})
    assert second.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: Client, register: Register
) -> None:
    account = await register()
    rotated = (await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})).json()
    replay = await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("refresh-token-reused")
    # the legitimate, newer token of the same family is dead too
    after = await client.post("/auth/refresh", json={"refreshToken": rotated["refreshToken"]})
    assert after.status_code == 401


async def test_reuse_revokes_only_that_login_not_other_devices(client: Client, register: Register) -> None:
    account = await register("multi")
    other = (
        await client.post("/auth/login", json={"handle": "multi", "password": "correct horse battery"})
    ).json()
    await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    still = await client.post("/auth/refresh", json={"refreshToken": other["refreshToken"]})
    assert still.status_code == 200


async def test_unknown_refresh_token_is_refused(client: Client) -> None:
    response = await client.post("/auth/refresh", json={"refreshToken": "not-a-token"})
    assert response.status_code == 401


async def test_logout_kills_the_refresh_token(client: Client, register: Register) -> None:
    account = await register()
    out = await client.post(
        "/auth/logout", json={"refreshToken": account.refresh_token}, headers=account.auth
    )
    assert out.status_code == 204
    again = await client.post("/auth/refresh", json={"refreshToken": account.refresh_token})
    assert again.status_code == 401


async def test_logout_cannot_end_someone_elses_session(client: Client, register: Register) -> None:
    alice = await register()
    mallory = await register()
    response = await client.post(
        "/auth/logout", json={"refreshToken": alice.refresh_token}, headers=mallory.auth
    )
    assert response.status_code == 422
    assert (await client.post("/auth/refresh", json={"refreshToken": alice.refresh_token})).status_code == 200


async def test_protected_routes_need_a_token(client: Client) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_token_attacks_are_all_refused_with_401(client: Client, register: Register) -> None:
    account = await register()
    claims = _claims(account.access_token)
    now = int(session_clock().timestamp())

    header = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    )
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    alg_none = f"{header}.{payload}."

    head, _, signature = account.access_token.split(".")
    tampered_claims = dict(claims, sub="00000000-0000-0000-0000-000000000000")
    tampered_body = base64.urlsafe_b64encode(json.dumps(tampered_claims).encode()).rstrip(b"=").decode()

    attacks = {
        "alg none": alg_none,
        "wrong audience": _forge(dict(claims, aud="someone-else")),
        "wrong issuer": _forge(dict(claims, iss="evil")),
        "expired": _forge(dict(claims, iat=now - 3600, exp=now - 1800)),
        "tampered payload": f"{head}.{tampered_body}.{signature}",
        "wrong key": _forge(claims, key="another-secret-key-that-is-long-enough-000"),
        "other algorithm": _forge(claims, alg="HS512"),
        "missing jti": _forge({k: v for k, v in claims.items() if k != "jti"}),
        "missing exp": _forge({k: v for k, v in claims.items() if k != "exp"}),
        "garbage": "not.a.jwt",
    }
    for name, token in attacks.items():
        response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["status"] == 401, name


async def test_non_bearer_authorization_is_refused(client: Client, register: Register) -> None:
    account = await register()
    response = await client.get("/me", headers={"Authorization": f"Basic {account.access_token}"})
    assert response.status_code == 401


async def test_access_token_claims_are_complete_and_short_lived(client: Client, register: Register) -> None:
    account = await register()
    claims = _claims(account.access_token)
    assert {"iss", "aud", "sub", "exp", "iat", "jti"} <= claims.keys()
    assert claims["exp"] - claims["iat"] <= 15 * 60
    assert jwt.get_unverified_header(account.access_token)["alg"] == "HS256"


async def test_login_brute_force_is_slowed_down(register: Register, make_app: Any, clean_db: Any) -> None:
    async with AsyncTestClient(app=make_app(login_attempts_per_minute=3)) as limited:
        await limited.post("/auth/register", json={"handle": "target", "password": "correct horse battery"})
        codes = [
            (
                await limited.post("/auth/login", json={"handle": "target", "password": f"guess{i}xxxx"})
            ).status_code
            for i in range(5)
        ]
        assert codes[:3] == [401, 401, 401]
        assert codes[3] == 429
        blocked = await limited.post(
            "/auth/login", json={"handle": "target", "password": "correct horse battery"}
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1


async def test_a_weakly_hashed_password_is_rehashed_at_the_configured_cost_on_login(
    make_app: Any, clean_db: Any
) -> None:
    """The demo's sample accounts are hashed cheaply; their first login brings them to the real cost."""
    async with AsyncTestClient(app=make_app(argon2_time_cost=2, argon2_memory_kib=2048)) as dearer:
        app: Litestar = dearer.app
        cheap = dataclasses.replace(app.state.auth, passwords=Passwords(time_cost=1, memory_kib=1024))
        async with app.state.sessionmaker() as session:
            await create_user(session, cheap, handle="demo-pupil", password="saferoutes-demo")
            await session.commit()

        async def stored_cost() -> tuple[int, int]:
            async with app.state.sessionmaker() as session:
                made = extract_parameters((await find_by_handle(session, "demo-pupil")).password_hash)  # type: ignore[union-attr]
            return made.time_cost, made.memory_cost

        wrong = await dearer.post("/auth/login", json={"handle": "demo-pupil", "password": "not it at all"})
        assert wrong.status_code == 401
        assert await stored_cost() == (1, 1024), "a wrong password changes nothing"
        right = await dearer.post("/auth/login", json={"handle": "demo-pupil", "password": "saferoutes-demo"})
        assert right.status_code == 200, right.text
        assert await stored_cost() == (2, 2048)
        again = await dearer.post("/auth/login", json={"handle": "demo-pupil", "password": "saferoutes-demo"})
        assert again.status_code == 200
