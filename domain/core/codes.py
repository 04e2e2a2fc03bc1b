"""Human-typable one-off codes (class join codes, guardian codes) and how they are stored.

A child types a join code from the board and a guardian types a code from a
note, so codes use an alphabet without look-alikes (no 0/O, 1/I/L) and accept
any case, spaces and dashes. They are short, hence guessable offline: only an
HMAC keyed with the server secret is stored, so a copy of the database alone
does not give them away (rotating the secret invalidates open codes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
JOIN_CODE_LENGTH = 8
"""31^8 ≈ 8.5e11 codes; guessing is bounded by the per-user join rate limit and expiry."""
GUARDIAN_CODE_LENGTH = 12
"""31^12 ≈ 7.9e17 codes: it is presented anonymously, so it gets more entropy than a join code."""
GROUP = 4


@dataclass(frozen=True)
class IssuedCode:
    """A code as shown to a person exactly once; only its hash is kept."""

    code: str
    expires_at: datetime


def new_code(length: int) -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return "-".join(raw[i : i + GROUP] for i in range(0, length, GROUP))


def normalize(code: str) -> str:
    """What a person typed, as the code was made: upper case, separators dropped."""
    return "".join(ch for ch in code.upper() if ch not in " -_.\t")


@dataclass(frozen=True)
class CodeHasher:
    """Keyed hashes of codes; `purpose` separates join codes from guardian codes."""

    secret: str

    def hash(self, purpose: str, code: str) -> str:
        message = f"{purpose}:{normalize(code)}".encode()
        return hmac.new(self.secret.encode(), message, hashlib.sha256).hexdigest()
