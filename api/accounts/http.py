"""Registration, login, token rotation and logout (POST /auth/…)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from api.accounts.me import Profile, profile_of
from api.security import authenticated
from api.settings import Settings
from api.wire import BirthYear, Nickname, Out, Strict
from domain.accounts import service as auth
from domain.accounts.rules import handle_key
from domain.accounts.service import AuthConfig, TokenPair
from domain.accounts.tables import User
from domain.core.ratelimit import RateLimiter

Handle = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=32,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="3 to 32 letters, digits, '.', '_' or '-'; unique regardless of case",
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]


class RegisterRequest(Strict):
    handle: Handle
    password: Password
    birth_year: BirthYear | None = None
    nickname: Nickname | None = None


class LoginRequest(Strict):
    handle: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class RefreshRequest(Strict):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Tokens(Out):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class Session(Out):
    user: Profile
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


def client_address(request: Request[Any, Any, Any], settings: Settings) -> str:
    """The caller's address; a forwarding header is believed only behind a trusted proxy."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else "unknown"


def _tokens(pair: TokenPair) -> Tokens:
    return Tokens(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]

    @post("/register", status_code=HTTP_201_CREATED, summary="Create an account")
    async def register(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[RegisterRequest],
    ) -> Session:
        settings: Settings = state.settings
        limiter: RateLimiter = state.rate_limiter
        await limiter.hit(
            f"register:{client_address(request, settings)}",
            limit=settings.register_per_hour,
            window=timedelta(hours=1),
        )
        config: AuthConfig = state.auth
        user, pair = await auth.register(
            db_session,
            config,
            handle=data.handle,
            password=data.password,
            birth_year=data.birth_year,
            nickname=data.nickname,
        )
        profile = await profile_of(db_session, user)
        return Session(
            user=profile,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
        )

    @post("/login", status_code=HTTP_200_OK, summary="Log in with handle and password")
    async def login(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[LoginRequest],
    ) -> Session:
        settings: Settings = state.settings
        limiter: RateLimiter = state.rate_limiter
        minute = timedelta(minutes=1)
        # brute-force protection on both the account and the address guessing it
        await limiter.hit(
            f"login-handle:{handle_key(data.handle)}",
            limit=settings.login_attempts_per_minute,
            window=minute,
        )
        await limiter.hit(
            f"login-addr:{client_address(request, settings)}",
            limit=settings.login_attempts_per_minute * 3,
            window=minute,
        )
        user, pair = await auth.login(db_session, state.auth, handle=data.handle, password=data.password)
        profile = await profile_of(db_session, user)
        return Session(
            user=profile,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
        )

    @post("/refresh", status_code=HTTP_200_OK, summary="Exchange a refresh token for a new pair")
    async def refresh(
        self, state: State, db_session: NamedDependency[AsyncSession], data: JSONBody[RefreshRequest]
    ) -> Tokens:
        _, pair = await auth.refresh(db_session, state.auth, refresh_token=data.refresh_token)
        return _tokens(pair)

    @post(
        "/logout", status_code=HTTP_204_NO_CONTENT, guards=[authenticated], summary="End this login session"
    )
    async def logout(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: JSONBody[RefreshRequest],
    ) -> None:
        await auth.logout(db_session, current_user, refresh_token=data.refresh_token)
