"""Who is calling: bearer-token authentication, role guards and consent guards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.accounts import service as accounts
from domain.accounts.rules import TokenIssuer
from domain.accounts.tables import User
from domain.core.columns import utcnow
from domain.core.enums import ConsentPurpose, Role
from domain.core.errors import Forbidden, Unauthenticated
from domain.core.ratelimit import RateLimiter
from privacy.consent import service as consent


@dataclass(frozen=True)
class Caller:
    """The authenticated user as the guards need it, with the row read for this request.

    ``user`` is detached: read it, never change it; a handler that changes the
    row asks for ``current_user`` (the same row, attached to its session).
    """

    id: uuid.UUID
    role: Role
    birth_year: int | None
    token_id: str
    user: User


class BearerAuthentication(AbstractAuthenticationMiddleware):
    """Resolve `Authorization: Bearer …` to a Caller; no header means anonymous.

    The user row is read on every request so that an erased account's tokens
    stop working at once, not when they expire; the same statement tells
    whether the token's login was revoked (`caller_of_token`).
    """

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if header is None:
            return AuthenticationResult(user=None, auth=None)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("Use 'Authorization: Bearer <access token>'.", code="invalid-token")
        tokens: TokenIssuer = connection.app.state.tokens
        claims = tokens.verify(token.strip(), now=utcnow())
        # one SELECT on an autocommit session: no BEGIN/ROLLBACK round trips on every request
        reads: async_sessionmaker[AsyncSession] = connection.app.state.read_sessionmaker
        async with reads() as session:
            user = await accounts.caller_of_token(session, claims)
        caller = Caller(
            id=user.id, role=Role(user.role), birth_year=user.birth_year, token_id=claims.token_id, user=user
        )
        return AuthenticationResult(user=caller, auth=claims)


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Coroutine[Any, Any, None]]


def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    caller = connection.scope.get("user")
    if not isinstance(caller, Caller):
        raise Unauthenticated("Log in first: this needs an access token.", code="unauthenticated")
    return caller


async def authenticated(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    caller_of(connection)


def requires_role(*roles: Role) -> Guard:
    allowed = frozenset(roles)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if caller_of(connection).role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"This needs one of the roles: {names}.", code="role-required")

    return guard


def requires_consent(purpose: ConsentPurpose) -> Guard:
    """A route declares the purpose it processes data for; without effective consent: 403."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        caller = caller_of(connection)
        reads: async_sessionmaker[AsyncSession] = connection.app.state.read_sessionmaker
        async with reads() as session:
            await consent.require(session, caller.user, purpose, today=utcnow().date())

    return guard


def throttled(scope: str, *, limit: int | None = None, window: timedelta = timedelta(minutes=1)) -> Guard:
    """Per-user rate limit, counted in PostgreSQL so that every worker agrees.

    A guard runs before the body is read and before the request's session
    takes a pooled connection, so a flood of requests cannot starve the pool.
    `limit` defaults to the `rate_limit_per_minute` setting.
    """

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        caller = caller_of(connection)
        limiter: RateLimiter = connection.app.state.rate_limiter
        allowed = limit if limit is not None else connection.app.state.settings.rate_limit_per_minute
        await limiter.hit(f"{scope}:{caller.id}", limit=allowed, window=window)

    return guard
