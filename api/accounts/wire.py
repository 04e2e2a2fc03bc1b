"""Accounts on the wire: registration, login, tokens and the profile (camelCase, unknown fields refused)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from api.privacy.wire import ConsentSummary
from api.schools.wire import Code, Joined
from api.wire import BirthYear, Nickname, Out, Strict

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
    # a class's join code: register and join the class at once (birthYear then required)
    join_code: Code | None = None


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


class Profile(Out):
    id: uuid.UUID
    handle: str
    nickname: str
    roles: list[str]
    birth_year: int | None
    is_child: bool
    created_at: datetime
    consents: list[ConsentSummary]
    points_total: int = 0


class ProfilePatch(Strict):
    nickname: Nickname | msgspec.UnsetType = msgspec.UNSET
    birth_year: BirthYear | msgspec.UnsetType | None = msgspec.UNSET


class Session(Out):
    user: Profile
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    # the class joined with the registration's join code (and, under 13, the guardian code)
    joined_class: Joined | None = None
