"""PATCH /me, request validation as problem documents, body size cap, no mass assignment."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.conftest import Register

Client = AsyncTestClient[Litestar]


async def test_patch_me_changes_the_nickname(client: Client, register: Register) -> None:
    account = await register()
    response = await client.patch("/me", json={"nickname": "Fast Fox"}, headers=account.auth)
    assert response.status_code == 200
    assert response.json()["nickname"] == "Fast Fox"


async def test_a_client_cannot_set_its_own_role_or_id(client: Client, register: Register) -> None:
    account = await register()
    for field, value in (("role", "admin"), ("roles", ["admin"]), ("id", "x"), ("pointsTotal", 1000)):
        response = await client.patch("/me", json={field: value}, headers=account.auth)
        assert response.status_code == 400, field
        assert response.json()["errors"][0]["field"] == field
    me = (await client.get("/me", headers=account.auth)).json()
    assert me["roles"] == ["citizen"]


async def test_register_rejects_unknown_fields_so_nobody_registers_as_admin(client: Client) -> None:
    response = await client.post(
        "/auth/register", json={"handle": "sneaky", "password": "correct horse battery", "role": "admin"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "role", "message": "Object contains unknown field `role`"}]
    login = await client.post("/auth/login", json={"handle": "sneaky", "password": "correct horse battery"})
    assert login.status_code == 401


async def test_validation_errors_name_the_field(client: Client) -> None:
    cases = {
        "handle": {"handle": "a", "password": "correct horse battery"},
        "password": {"handle": "validname", "password": "short"},
        "birthYear": {"handle": "validname", "password": "correct horse battery", "birthYear": "nineteen"},
        "nickname": {"handle": "validname", "password": "correct horse battery", "nickname": "<script>"},
    }
    for field, body in cases.items():
        response = await client.post("/auth/register", json=body)
        assert response.status_code == 400, field
        problem = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert problem["status"] == 400 and problem["type"].startswith("urn:saferoutes:problem:")
        assert [e["field"] for e in problem["errors"]] == [field], problem


async def test_birth_year_in_the_future_is_refused(client: Client) -> None:
    response = await client.post(
        "/auth/register",
        json={"handle": "timetraveller", "password": "correct horse battery", "birthYear": 2099},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "birthYear"


async def test_birth_year_can_be_declared_once_but_not_changed(client: Client, register: Register) -> None:
    account = await register()
    first = await client.patch("/me", json={"birthYear": 2015}, headers=account.auth)
    assert first.status_code == 200 and first.json()["isChild"] is True
    change = await client.patch("/me", json={"birthYear": 1980}, headers=account.auth)
    assert change.status_code == 409


async def test_malformed_json_is_a_400_problem(client: Client) -> None:
    response = await client.post(
        "/auth/register", content=b'{"handle": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_oversized_bodies_get_413(client: Client) -> None:
    huge = {"handle": "big", "password": "x" * 2_000_000}
    response = await client.post("/auth/register", json=huge)
    assert response.status_code == 413
    assert response.json()["type"].endswith("body-too-large")


async def test_unknown_routes_are_problem_documents_with_a_request_id(client: Client) -> None:
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["requestId"] == response.headers["x-request-id"]


async def test_a_sane_incoming_request_id_is_kept(client: Client) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abcdef12-3456"})
    assert response.headers["x-request-id"] == "abcdef12-3456"
    hostile = await client.get("/health", headers={"X-Request-ID": "a\x1bb" * 40})
    assert hostile.headers["x-request-id"] != "a\x1bb" * 40


async def test_a_missing_required_field_is_named(client: Client) -> None:
    response = await client.post("/auth/register", json={"handle": "nopassword"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password"
