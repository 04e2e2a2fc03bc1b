"""Dependencies every controller may ask for, by explicit name."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import Caller, caller_of
from api.settings import Settings
from domain.accounts.tables import User
from domain.core.codes import CodeHasher


async def provide_db_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """One session per request; a use case commits once, anything else rolls back on close."""
    async with state.sessionmaker() as session:
        yield session


def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


def provide_caller(request: Request[Any, Any, Any]) -> Caller:
    return caller_of(request)


async def provide_current_user(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> User:
    """The row authentication read for this request, attached to the request's session.

    No second SELECT: `merge(load=False)` takes the row as read a moment ago,
    and a handler that changes it writes the change in its own transaction.
    """
    return await db_session.merge(caller_of(request).user, load=False)


def provide_codes(state: State) -> CodeHasher:
    settings: Settings = state.settings
    return CodeHasher(settings.secret_key)


CODES = {"codes": Provide(provide_codes, sync_to_thread=False)}


def client_address(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The caller's address; a forwarding header is believed only behind a trusted proxy."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else "unknown"
