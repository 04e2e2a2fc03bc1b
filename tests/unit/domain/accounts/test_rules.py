"""Access tokens and password hashing, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from domain.accounts.rules import Passwords, TokenIssuer, hash_refresh_token, new_refresh_token
from domain.core.errors import Unauthenticated

ISSUER = TokenIssuer(secret="k" * 40, issuer="saferoutes", audience="app", ttl=timedelta(minutes=15))
NOW = datetime.now(UTC)


def test_issued_token_verifies_to_its_user() -> None:
    user = uuid.uuid4()
    claims = ISSUER.verify(ISSUER.issue(user, now=NOW))
    assert claims.user_id == user
    assert claims.token_id


def test_each_token_has_a_unique_id() -> None:
    user = uuid.uuid4()
    a = jwt.decode(ISSUER.issue(user, now=NOW), options={"verify_signature": False})
    b = jwt.decode(ISSUER.issue(user, now=NOW), options={"verify_signature": False})
    assert a["jti"] != b["jti"]


def test_expired_token_is_refused() -> None:
    token = ISSUER.issue(uuid.uuid4(), now=NOW - timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        ISSUER.verify(token)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_algorithms_are_refused_even_with_the_right_key(alg: str) -> None:
    claims = {"iss": "saferoutes", "aud": "app", "sub": str(uuid.uuid4()), "iat": 1, "exp": 2**40, "jti": "x"}
    with pytest.raises(Unauthenticated):
        ISSUER.verify(jwt.encode(claims, "k" * 64, algorithm=alg))


def test_subject_must_be_a_uuid() -> None:
    claims = {"iss": "saferoutes", "aud": "app", "sub": "admin", "iat": 1, "exp": 2**40, "jti": "x"}
    with pytest.raises(Unauthenticated):
        ISSUER.verify(jwt.encode(claims, "k" * 40, algorithm="HS256"))


def test_passwords_hash_with_argon2id_and_verify() -> None:
    passwords = Passwords(time_cost=1, memory_kib=1024)
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery")
    assert not passwords.verify(stored, "wrong horse battery")


def test_unknown_user_never_verifies() -> None:
    passwords = Passwords(time_cost=1, memory_kib=1024)
    assert not passwords.verify(None, "anything at all")


def test_refresh_tokens_are_random_and_stored_as_hashes() -> None:
    token = new_refresh_token()
    assert token != new_refresh_token()
    assert len(hash_refresh_token(token)) == 64
    assert token not in hash_refresh_token(token)
