"""The rules of accounts: handles, nicknames and birth years; password hashing (Argon2id) and
access tokens (JWT, one pinned algorithm)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import ARGON2_VERSION

from domain.core.errors import InvalidInput, Unauthenticated

JWT_ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "exp", "iat", "jti")
HASHING_NICENESS = 10
"""How much lower than the rest of the process the hashing threads run (Linux: per thread)."""
NICKNAME_WORDS = ("Fox", "Otter", "Heron", "Lynx", "Badger", "Swift", "Robin", "Hare", "Owl", "Wren")


def handle_key(handle: str) -> str:
    return handle.casefold()


def default_nickname() -> str:
    """A friendly, non-identifying name for leaderboards until the user picks one."""
    return f"{secrets.choice(NICKNAME_WORDS)}-{secrets.randbelow(9000) + 1000}"


def check_birth_year(birth_year: int | None, today: date) -> None:
    if birth_year is not None and not (today.year - 120 <= birth_year <= today.year):
        raise InvalidInput("birthYear", f"birthYear must be between {today.year - 120} and {today.year}.")


def _yield_to_the_event_loop() -> None:
    """Run this hashing thread at a lower priority than the event loop and the database.

    A login burst then slows logins down, not every other request of the
    worker. Where threads have no priority of their own, nothing changes.
    """
    with contextlib.suppress(AttributeError, OSError):
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + HASHING_NICENESS))


class Passwords:
    """Argon2id hashing at the configured cost (configurable so tests need not burn CPU).

    A hash costs a good part of a second of CPU at the default cost (64 MiB,
    three passes). The service therefore never hashes on the event loop: the
    ``*_off_loop`` methods run the work in a pool of at most `workers` threads
    (argon2-cffi releases the GIL while it hashes), so the worker keeps
    answering other requests while logins queue for the pool, and at most
    `workers` hashes (and their memory) are in progress per process.

    Every check costs at least one verification at the configured cost, so a
    wrong password takes as long for a handle that exists as for one that
    does not: an unknown handle is verified against a dummy hash, and a hash
    made at a lower cost (the demo's sample accounts, an older setting) is
    followed by a dummy verification too. A correct password on such a hash
    is rehashed at login (`below_cost`), after which it costs what any does.
    """

    def __init__(self, *, time_cost: int = 3, memory_kib: int = 64 * 1024, workers: int = 2) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, type=Type.ID)
        self._dummy = self._hasher.hash(secrets.token_hex(16))
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.workers,
                    thread_name_prefix="argon2",
                    initializer=_yield_to_the_event_loop,
                )
            return self._pool

    async def hash_off_loop(self, password: str) -> str:
        """`hash`, in the hashing pool: the caller's event loop stays free meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self._executor(), self.hash, password)

    async def verify_off_loop(self, password_hash: str | None, password: str) -> bool:
        """`verify` (dummy verification included), in the hashing pool."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), self.verify, password_hash, password
        )

    def close(self) -> None:
        """Stop the pool's threads (queued work is dropped); a later call starts a new pool."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

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
    """What an access token says: whose it is and of which login (its refresh-token family)."""

    user_id: uuid.UUID
    login_id: uuid.UUID
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

    def issue(self, user_id: uuid.UUID, *, login_id: uuid.UUID, now: datetime) -> str:
        """An access token of `login_id` (claim ``sid``): revoking that login ends the token too."""
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "sid": str(login_id),
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
            login_id = uuid.UUID(str(claims["sid"]))
            issued_at = datetime.fromtimestamp(int(claims["iat"])).astimezone()
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise Unauthenticated("The access token is invalid or expired.", code="invalid-token") from exc
        return AccessClaims(
            user_id=user_id, login_id=login_id, token_id=str(claims["jti"]), issued_at=issued_at
        )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are high-entropy, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()
