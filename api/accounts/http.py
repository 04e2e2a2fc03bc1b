"""Accounts over HTTP: registration, login, token rotation and logout (/auth/…), and the profile (/me)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.accounts.wire import (
    LoginRequest,
    Profile,
    ProfilePatch,
    RefreshRequest,
    RegisterRequest,
    Session,
    Tokens,
)
from api.deps import CODES, client_address
from api.privacy.wire import consent_summaries
from api.schools.wire import joined_out
from api.security import authenticated
from api.settings import Settings
from domain.accounts import service as auth
from domain.accounts.rules import handle_key
from domain.accounts.service import AuthConfig, TokenPair
from domain.accounts.tables import User
from domain.core.codes import CodeHasher
from domain.core.columns import utcnow
from domain.core.errors import InvalidInput
from domain.core.ratelimit import RateLimiter
from domain.schools import service as school_service
from gamification.points import service as gamification
from privacy.consent import service as consent
from privacy.consent.rules import is_child
from privacy.selfservice import service as self_service


def _tokens(pair: TokenPair) -> Tokens:
    return Tokens(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


async def profile_of(session: AsyncSession, user: User) -> Profile:
    today = utcnow().date()
    states = await consent.states_for(session, user, today=today)
    return Profile(
        id=user.id,
        handle=user.handle,
        nickname=user.nickname,
        roles=[user.role],
        birth_year=user.birth_year,
        is_child=is_child(user.birth_year, today),
        created_at=user.created_at,
        consents=consent_summaries(states),
        points_total=await gamification.points_total(session, user.id),
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]
    dependencies = CODES

    @post("/register", status_code=HTTP_201_CREATED, summary="Create an account")
    async def register(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: NamedDependency[AsyncSession],
        codes: NamedDependency[CodeHasher],
        data: JSONBody[RegisterRequest],
    ) -> Session:
        """Registrations count per address; one with a valid class join code is bounded per code instead.

        A class enrolling from one school network must not stop at the
        address's limit. Such a registration still counts against the address,
        and an invalid code is refused (422) after counting against it, so
        guessing codes is no way around the address's limit.
        """
        settings: Settings = state.settings
        limiter: RateLimiter = state.rate_limiter
        address = f"register:{client_address(request, settings)}"
        config: AuthConfig = state.auth
        if data.join_code is None:
            await limiter.hit(address, limit=settings.register_per_hour, window=timedelta(hours=1))
            user, pair = await auth.register(
                db_session,
                config,
                handle=data.handle,
                password=data.password,
                birth_year=data.birth_year,
                nickname=data.nickname,
            )
            joined = None
        else:
            now = utcnow()
            reads: async_sessionmaker[AsyncSession] = state.read_sessionmaker
            async with reads() as session:
                live = await school_service.live_join_code(session, codes, data.join_code, now=now)
            if live is None:
                await limiter.hit(address, limit=settings.register_per_hour, window=timedelta(hours=1))
                raise InvalidInput(
                    "joinCode",
                    "This join code is unknown, expired or revoked; ask your teacher for the current one.",
                    code="invalid-join-code",
                )
            await limiter.hit(
                f"register-code:{live.id}",
                limit=settings.register_per_join_code_per_day,
                window=timedelta(days=1),
            )
            await limiter.hit(address, limit=None, window=timedelta(hours=1))
            user, pair, pupil = await school_service.register_pupil(
                db_session,
                config,
                codes,
                handle=data.handle,
                password=data.password,
                birth_year=data.birth_year,
                nickname=data.nickname,
                code=data.join_code,
                now=now,
            )
            joined = joined_out(pupil)
        profile = await profile_of(db_session, user)
        return Session(
            user=profile,
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            joined_class=joined,
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


class MeController(Controller):
    path = "/me"
    tags = ["me"]
    guards = [authenticated]

    @get("/", summary="My profile, role and consent summary")
    async def read(
        self, db_session: NamedDependency[AsyncSession], current_user: NamedDependency[User]
    ) -> Profile:
        return await profile_of(db_session, current_user)

    @delete("/", status_code=HTTP_204_NO_CONTENT, summary="Erase my account and everything tied to it")
    async def erase(
        self, db_session: NamedDependency[AsyncSession], current_user: NamedDependency[User]
    ) -> None:
        """GDPR art. 17, in one transaction; see `privacy.selfservice.service.erase`."""
        await self_service.erase(db_session, current_user.id, now=utcnow())
        await db_session.commit()

    @patch("/", summary="Change my nickname, or declare my birth year once")
    async def update(
        self,
        db_session: NamedDependency[AsyncSession],
        current_user: NamedDependency[User],
        data: JSONBody[ProfilePatch],
    ) -> Profile:
        user = await auth.update_profile(
            db_session,
            current_user,
            nickname=None if data.nickname is msgspec.UNSET else data.nickname,
            birth_year=None if isinstance(data.birth_year, msgspec.UnsetType) else data.birth_year,
            set_birth_year=data.birth_year is not msgspec.UNSET,
        )
        return await profile_of(db_session, user)
