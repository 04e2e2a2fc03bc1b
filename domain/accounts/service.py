"""Account use cases: register, log in, rotate refresh tokens, log out, edit the profile.

Each function works inside the caller's session and commits once when it
changes something, so a use case is all-or-nothing. Passwords are hashed and
checked in the hashing pool (`Passwords.*_off_loop`), never while the session
holds a pooled connection: a burst of logins waits for the pool's threads,
not with every database connection of the worker checked out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.accounts.rules import (
    AccessClaims,
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
    password_hash = await config.passwords.hash_off_loop(password)
    user = User(
        handle=handle,
        handle_key=handle_key(handle),
        password_hash=password_hash,
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
        access_token=config.tokens.issue(user.id, login_id=family_id, now=now),
        refresh_token=raw,
        expires_in=int(config.tokens.ttl.total_seconds()),
    )


async def open_account(
    session: AsyncSession,
    config: AuthConfig,
    *,
    handle: str,
    password: str,
    birth_year: int | None,
    nickname: str | None,
) -> tuple[User, TokenPair]:
    """A new citizen and their first login, flushed; the caller's use case commits."""
    user = await create_user(
        session, config, handle=handle, password=password, birth_year=birth_year, nickname=nickname
    )
    pair = await _issue_pair(session, config, user, family_id=uuid.uuid4(), now=utcnow())
    return user, pair


async def register(
    session: AsyncSession,
    config: AuthConfig,
    *,
    handle: str,
    password: str,
    birth_year: int | None,
    nickname: str | None,
) -> tuple[User, TokenPair]:
    user, pair = await open_account(
        session, config, handle=handle, password=password, birth_year=birth_year, nickname=nickname
    )
    await session.commit()
    return user, pair


async def find_by_handle(session: AsyncSession, handle: str) -> User | None:
    result = await session.execute(sa.select(User).where(User.handle_key == handle_key(handle)))  # type: ignore[arg-type]
    return result.scalar_one_or_none()


async def login(
    session: AsyncSession, config: AuthConfig, *, handle: str, password: str
) -> tuple[User, TokenPair]:
    """Check the password with no connection held, then write the new login in one transaction.

    The lookup's transaction ends before the check (which takes a while, and
    queues for the hashing pool in a burst), so the check holds no pooled
    connection. An unknown handle is checked against a dummy hash all the
    same. A correct password whose hash is below the configured cost is
    rehashed, also off the connection, and stored with the login unless the
    hash changed meanwhile.
    """
    found = await find_by_handle(session, handle)
    user_id, stored = (found.id, found.password_hash) if found is not None else (None, None)
    await session.rollback()  # hands the connection back to the pool before the slow part
    matches = await config.passwords.verify_off_loop(stored, password)
    if not matches or user_id is None or stored is None:
        raise Unauthenticated("Unknown handle or wrong password.", code="invalid-credentials")
    rehashed = await config.passwords.hash_off_loop(password) if config.passwords.below_cost(stored) else None
    user = await session.get(User, user_id)
    if user is None:  # erased while its password was being checked
        raise Unauthenticated("Unknown handle or wrong password.", code="invalid-credentials")
    if rehashed is not None and user.password_hash == stored:
        user.password_hash = rehashed  # now at the configured cost, with the login
    pair = await _issue_pair(session, config, user, family_id=uuid.uuid4(), now=utcnow())
    await session.commit()
    return user, pair


async def caller_of_token(session: AsyncSession, claims: AccessClaims) -> User:
    """The user an access token speaks for, if the user still exists and its login is not revoked.

    One statement, the user read every authenticated request makes anyway: a
    login (refresh-token family) revoked by reuse detection or logout ends
    its access tokens on the next request, on every worker and every
    instance sharing the database, with no extra round trip. The check is an
    index probe (only revoked rows are indexed by family).
    """
    revoked = sa.exists().where(
        RefreshToken.family_id == claims.login_id,  # type: ignore[arg-type]
        RefreshToken.revoked_at.is_not(None),  # type: ignore[union-attr]
    )
    row = (
        await session.execute(sa.select(User, revoked.label("revoked")).where(User.id == claims.user_id))  # type: ignore[arg-type]
    ).one_or_none()
    if row is None:
        raise Unauthenticated("The access token is invalid or expired.", code="invalid-token")
    if row.revoked:
        raise Unauthenticated(
            "This login has been ended (logout or a reused refresh token); log in again.",
            code="login-revoked",
        )
    user: User = row.User
    return user


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
