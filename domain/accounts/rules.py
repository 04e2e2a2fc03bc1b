"""The rules of accounts: handles, nicknames and birth years; password hashing (Argon2id) and
access tokens (JWT, one pinned algorithm)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import ARGON2_VERSION

from domain.core.errors import InvalidInput, Unauthenticated

JWT_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "exp", "iat", "jti")
NICKNAME_WORDS = ("Fox", "Otter", "Heron", "Lynx", "Badger", "Swift", "Robin", "Hare", "Owl", "Wren")


def handle_key(handle: str) -> str:
    return handle.casefold()


def default_nickname() -> str:
    """A friendly, non-identifying name for leaderboards until the user picks one."""
    return f"{secrets.choice(NICKNAME_WORDS)}-{secrets.randbelow(9000) + 1000}"


def check_birth_year(birth_year: int | None, today: date) -> None:
    if birth_year is not None and not (today.year - 120 <= birth_year <= today.year):
        raise InvalidInput("birthYear", f"birthYear must be between {today.year - 120} and {today.year}.")


class Passwords:
    """Argon2id hashing at the configured cost (configurable so tests need not burn CPU).

    Every check costs at least one verification at the configured cost, so a
    wrong password takes as long for a handle that exists as for one that
    does not: an unknown handle is verified against a dummy hash, and a hash
    made at a lower cost (the demo's sample accounts, an older setting) is
    followed by a dummy verification too. A correct password on such a hash
    is rehashed at login (`below_cost`), after which it costs what any does.
    """

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 64 * 1024) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, type=Type.ID)
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def below_cost(self, password_hash: str) -> bool:
        """Whether `password_hash` was made cheaper than the configured cost (or is no Argon2id hash)."""
        try:
            made = extract_parameters(password_hash)
        except InvalidHashError:
            return True
        wanted = self._hasher
        return (
            made.type is not Type.ID
            or made.time_cost < wanted.time_cost
            or made.memory_cost < wanted.memory_cost
            or made.version < ARGON2_VERSION
        )

    def _verify_one(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            self._verify_one(self._dummy, password)
            return False
        matches = self._verify_one(password_hash, password)
        if self.below_cost(password_hash):
            self._verify_one(self._dummy, password)
        return matches


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    token_id: str
    issued_at: datetime


CLOCK_SKEW_S = 5
"""How far in the future a token's issue time may be: workers' clocks differ by a little."""


@dataclass(frozen=True)
class TokenIssuer:
    secret: str
    issuer: str
    audience: str
    ttl: timedelta

    def issue(self, user_id: uuid.UUID, *, now: datetime) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(claims, self.secret, algorithm=JWT_ALGORITHM)

    def verify(self, token: str, *, now: datetime) -> AccessClaims:
        """Decode and check a token at ``now`` (the caller's clock, not PyJWT's); every failure is the
        same 401 so nothing leaks about why."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != JWT_ALGORITHM:
                raise jwt.InvalidAlgorithmError("unexpected algorithm")
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[JWT_ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False},
            )
            moment = now.timestamp()
            if int(claims["exp"]) <= moment:
                raise jwt.ExpiredSignatureError("Signature has expired")
            if int(claims["iat"]) > moment + CLOCK_SKEW_S:
                raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")
            user_id = uuid.UUID(str(claims["sub"]))
            issued_at = datetime.fromtimestamp(int(claims["iat"])).astimezone()
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated("The access token is invalid or expired.", code="invalid-token") from exc
        return AccessClaims(user_id=user_id, token_id=str(claims["jti"]), issued_at=issued_at)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are high-entropy, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()
