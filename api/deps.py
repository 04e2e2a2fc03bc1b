"""Dependencies every controller may ask for, by explicit name."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from api.security import Caller, caller_of
from api.settings import Settings
from domain.accounts.tables import User


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
