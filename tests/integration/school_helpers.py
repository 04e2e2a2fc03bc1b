"""Shared helpers for the schools and guardian tests: staff accounts, a school, a class, a joined child."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from domain.accounts import service as auth
from domain.core.enums import Role
from domain.schools import service as school_service
from tests.integration.conftest import Account, Register

Client = AsyncTestClient[Litestar]
CHILD_YEAR = 2017
"""Under 13 for years to come."""
ADULT_YEAR = 1985
PASSWORD = "staff password 1"


async def staff(client: Client, role: Role = Role.ADMIN, school_id: str | None = None) -> Account:
    """An admin, or a teacher of a school: they cannot register themselves, so made the CLI way."""
    handle = f"{role.value}-{uuid.uuid4().hex[:8]}"
    app: Litestar = client.app
    async with app.state.sessionmaker() as session:
        user = await auth.create_user(session, app.state.auth, handle=handle, password=PASSWORD, role=role)
        if school_id is not None:
            await school_service.add_teacher(session, uuid.UUID(school_id), user)
        await session.commit()
    login = await client.post("/auth/login", json={"handle": handle, "password": PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()
    return Account(str(user.id), handle, tokens["accessToken"], tokens["refreshToken"])


async def school(client: Client, admin: Account, name: str = "Sint-Jan Mechelen") -> str:
    response = await client.post(
        "/schools", json={"name": name, "lat": 51.0259, "lon": 4.4776}, headers=admin.auth
    )
    assert response.status_code == 201, response.text
    school_id: str = response.json()["id"]
    return school_id


async def school_class(client: Client, teacher: Account, school_id: str, name: str = "5B") -> dict[str, Any]:
    response = await client.post(f"/schools/{school_id}/classes", json={"name": name}, headers=teacher.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def setup_class(client: Client) -> tuple[Account, Account, str, dict[str, Any]]:
    """(admin, teacher, school id, created class with its join code)."""
    admin = await staff(client)
    school_id = await school(client, admin)
    teacher = await staff(client, Role.TEACHER, school_id)
    return admin, teacher, school_id, await school_class(client, teacher, school_id)


async def join(client: Client, account: Account, code: str) -> Any:
    return await client.post("/classes/join", json={"joinCode": code}, headers=account.auth)


async def joined_child(client: Client, register: Register, code: str, **fields: Any) -> tuple[Account, str]:
    """A child under 13 that joined with `code`, and the guardian code it got back."""
    child = await register(birthYear=CHILD_YEAR, **fields)
    response = await join(client, child, code)
    assert response.status_code == 201, response.text
    guardian_code: str = response.json()["guardianCode"]
    assert guardian_code
    return child, guardian_code


async def execute(client: Client, sql: str, **params: Any) -> None:
    app: Litestar = client.app
    async with app.state.sessionmaker() as session:
        await session.execute(sa.text(sql), params)
        await session.commit()


async def scalar(client: Client, sql: str, **params: Any) -> Any:
    app: Litestar = client.app
    async with app.state.sessionmaker() as session:
        return (await session.execute(sa.text(sql), params)).scalar_one()
