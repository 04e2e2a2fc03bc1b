"""Account use cases: register, log in, rotate refresh tokens, log out, edit the profile.

Each function works inside the caller's session and commits once when it
changes something, so a use case is all-or-nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.rules import (
    Passwords,
    TokenIssuer,
    check_birth_year,
    default_nickname,
    handle_key,
    hash_refresh_token,
    new_refresh_token,
)
from domain.accounts.tables import RefreshToken, User
from domain.core.columns import utcnow
from domain.core.enums import Role
from domain.core.errors import Conflict, InvalidInput, Unauthenticated


@dataclass(frozen=True)
class AuthConfig:
    passwords: Passwords
    tokens: TokenIssuer
    refresh_ttl: timedelta


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


async def create_user(
    session: AsyncSession,
    config: AuthConfig,
    *,
    handle: str,
    password: str,
    role: Role = Role.CITIZEN,
    birth_year: int | None = None,
    nickname: str | None = None,
    today: date | None = None,
) -> User:
    check_birth_year(birth_year, today or utcnow().date())
    user = User(
        handle=handle,
        handle_key=handle_key(handle),
        password_hash=config.passwords.hash(password),
        role=role.value,
        birth_year=birth_year,
        nickname=nickname or default_nickname(),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("This handle is already taken.", code="handle-taken", field="handle") from exc
    return user


async def _issue_pair(
    session: AsyncSession, config: AuthConfig, user: User, *, family_id: uuid.UUID, now: datetime
) -> TokenPair:
    raw = new_refresh_token()
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_refresh_token(raw),
            created_at=now,
            expires_at=now + config.refresh_ttl,
        )
    )
    await session.flush()
    return TokenPair(
        access_token=config.tokens.issue(user.id, now=now),
        refresh_token=raw,
        expires_in=int(config.tokens.ttl.total_seconds()),
    )


async def register(
    session: AsyncSession,
    config: AuthConfig,
    *,
    handle: str,
    password: str,
    birth_year: int | None,
    nickname: str | None,
) -> tuple[User, TokenPair]:
    now = utcnow()
    user = await create_user(
        session, config, handle=handle, password=password, birth_year=birth_year, nickname=nickname
    )
    pair = await _issue_pair(session, config, user, family_id=uuid.uuid4(), now=now)
    await session.commit()
    return user, pair


async def find_by_handle(session: AsyncSession, handle: str) -> User | None:
    result = await session.execute(sa.select(User).where(User.handle_key == handle_key(handle)))  # type: ignore[arg-type]
    return result.scalar_one_or_none()


async def login(
    session: AsyncSession, config: AuthConfig, *, handle: str, password: str
) -> tuple[User, TokenPair]:
    user = await find_by_handle(session, handle)
    if not config.passwords.verify(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("Unknown handle or wrong password.", code="invalid-credentials")
    if config.passwords.below_cost(user.password_hash):
        user.password_hash = config.passwords.hash(password)  # now at the configured cost, with the login
    pair = await _issue_pair(session, config, user, family_id=uuid.uuid4(), now=utcnow())
    await session.commit()
    return user, pair


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))  # type: ignore[arg-type,union-attr]
        .values(revoked_at=now)
    )


async def refresh(session: AsyncSession, config: AuthConfig, *, refresh_token: str) -> tuple[User, TokenPair]:
    """Rotate: the presented token dies and a new one joins its family.

    Presenting a token that was already rotated means it was copied: the whole
    family is revoked, so both the thief and the victim must log in again.
    """
    now = utcnow()
    row = (
        await session.execute(
            sa.select(RefreshToken)
            .where(RefreshToken.token_hash == hash_refresh_token(refresh_token))  # type: ignore[arg-type]
            .with_for_update()
        )
    ).scalar_one_or_none()
    invalid = Unauthenticated(
        "The refresh token is invalid, expired or revoked.", code="invalid-refresh-token"
    )
    if row is None:
        raise invalid
    if row.used_at is not None or row.revoked_at is not None:
        await _revoke_family(session, row.family_id, now)
        await session.commit()
        raise Unauthenticated(
            "This refresh token was already used; every session of this login has been revoked.",
            code="refresh-token-reused",
        )
    if row.expires_at <= now:
        raise invalid
    user = await session.get(User, row.user_id)
    if user is None:
        raise invalid
    row.used_at = now
    pair = await _issue_pair(session, config, user, family_id=row.family_id, now=now)
    await session.commit()
    return user, pair


async def logout(session: AsyncSession, user: User, *, refresh_token: str) -> None:
    """End the login session the refresh token belongs to (its whole family)."""
    row = (
        await session.execute(
            sa.select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(refresh_token))  # type: ignore[arg-type]
        )
    ).scalar_one_or_none()
    if row is None or row.user_id != user.id:
        raise InvalidInput("refreshToken", "This refresh token does not belong to your sessions.")
    await _revoke_family(session, row.family_id, utcnow())
    await session.commit()


async def update_profile(
    session: AsyncSession, user: User, *, nickname: str | None, birth_year: int | None, set_birth_year: bool
) -> User:
    if nickname is not None:
        user.nickname = nickname
    if set_birth_year:
        check_birth_year(birth_year, utcnow().date())
        if user.birth_year is not None and birth_year != user.birth_year:
            # changing it would let a child talk their way out of guardian consent
            raise Conflict(
                "The birth year cannot be changed once set.", code="birth-year-fixed", field="birthYear"
            )
        user.birth_year = birth_year
    session.add(user)
    await session.commit()
    await session.refresh(user)
    return user
