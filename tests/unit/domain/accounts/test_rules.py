"""Access tokens and password hashing, without a database."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest
from argon2 import extract_parameters

from domain.accounts.rules import Passwords, TokenIssuer, hash_refresh_token, new_refresh_token
from domain.core.errors import Unauthenticated
from tests.clock import TEST_NOW

ISSUER = TokenIssuer(secret="k" * 40, issuer="saferoutes", audience="app", ttl=timedelta(minutes=15))
NOW = TEST_NOW
LOGIN = uuid.uuid4()


def test_issued_token_verifies_to_its_user() -> None:
    user = uuid.uuid4()
    claims = ISSUER.verify(ISSUER.issue(user, login_id=LOGIN, now=NOW), now=NOW)
    assert claims.user_id == user
    assert claims.token_id


def test_each_token_has_a_unique_id() -> None:
    user = uuid.uuid4()
    a = jwt.decode(ISSUER.issue(user, login_id=LOGIN, now=NOW), options={"verify_signature": False})
    b = jwt.decode(ISSUER.issue(user, login_id=LOGIN, now=NOW), options={"verify_signature": False})
    assert a["jti"] != b["jti"]


def test_expired_token_is_refused() -> None:
    token = ISSUER.issue(uuid.uuid4(), login_id=LOGIN, now=NOW - timedelta(hours=1))
    with pytest.raises(Unauthenticated):
        ISSUER.verify(token, now=NOW)
    assert ISSUER.verify(token, now=NOW - timedelta(minutes=50))  # by the caller's clock, not PyJWT's


def test_a_token_from_the_future_is_refused() -> None:
    token = ISSUER.issue(uuid.uuid4(), login_id=LOGIN, now=NOW + timedelta(minutes=1))
    with pytest.raises(Unauthenticated):
        ISSUER.verify(token, now=NOW)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_other_algorithms_are_refused_even_with_the_right_key(alg: str) -> None:
    claims = {"iss": "saferoutes", "aud": "app", "sub": str(uuid.uuid4()), "iat": 1, "exp": 2**40, "jti": "x"}
    with pytest.raises(Unauthenticated):
        ISSUER.verify(jwt.encode(claims, "k" * 64, algorithm=alg), now=NOW)


def test_subject_must_be_a_uuid() -> None:
    claims = {"iss": "saferoutes", "aud": "app", "sub": "admin", "iat": 1, "exp": 2**40, "jti": "x"}
    with pytest.raises(Unauthenticated):
        ISSUER.verify(jwt.encode(claims, "k" * 40, algorithm="HS256"), now=NOW)


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


class _Recording(Passwords):
    """Passwords that note the cost (time, memory) of every verification they run."""

    def __init__(self, **cost: int) -> None:
        super().__init__(**cost)
        self.costs: list[tuple[int, int]] = []

    def _verify_one(self, password_hash: str, password: str) -> bool:
        made = extract_parameters(password_hash)
        self.costs.append((made.time_cost, made.memory_cost))
        return super()._verify_one(password_hash, password)


def test_a_hash_below_the_configured_cost_is_found() -> None:
    configured = Passwords(time_cost=2, memory_kib=2048)
    assert configured.below_cost(Passwords(time_cost=1, memory_kib=2048).hash("pw"))
    assert configured.below_cost(Passwords(time_cost=2, memory_kib=1024).hash("pw"))
    assert configured.below_cost("$2b$12$not-argon2")
    assert not configured.below_cost(configured.hash("pw"))
    assert not configured.below_cost(Passwords(time_cost=3, memory_kib=4096).hash("pw")), "dearer is fine"


def test_every_check_costs_a_verification_at_the_configured_cost() -> None:
    """Unknown handles, weak hashes and strong ones: a wrong password costs the same least work."""
    passwords = _Recording(time_cost=2, memory_kib=2048)
    weak = Passwords(time_cost=1, memory_kib=1024).hash("right password")
    strong = passwords.hash("right password")
    for stored in (None, weak, strong):
        passwords.costs.clear()
        assert not passwords.verify(stored, "wrong password")
        assert (2, 2048) in passwords.costs, stored
    passwords.costs.clear()
    assert passwords.verify(weak, "right password")
    assert passwords.costs == [(1, 1024), (2, 2048)]


def test_a_token_names_its_login_and_one_without_it_is_refused() -> None:
    """The login id (``sid``) is what revocation checks; a token that names none cannot be revoked."""
    token = ISSUER.issue(uuid.uuid4(), login_id=LOGIN, now=NOW)
    assert ISSUER.verify(token, now=NOW).login_id == LOGIN
    claims = jwt.decode(token, options={"verify_signature": False})
    for broken in ({k: v for k, v in claims.items() if k != "sid"}, dict(claims, sid="admin")):
        with pytest.raises(Unauthenticated):
            ISSUER.verify(jwt.encode(broken, "k" * 40, algorithm="HS256"), now=NOW)
