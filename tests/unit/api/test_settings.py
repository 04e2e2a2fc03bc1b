"""Settings come from the environment once and refuse unsafe production setups."""

from __future__ import annotations

import pytest

from api.settings import DEFAULT_SECRET_KEY, SettingsError, load_settings


def test_defaults_are_development_with_an_embedded_database() -> None:
    settings = load_settings({})
    assert settings.env == "development"
    assert settings.database_url is None
    assert (settings.privacy_epsilon, settings.privacy_budget, settings.release_resolution) == (1.0, 4.0, 8)
    assert settings.h3_resolution == 10
    assert settings.access_token_ttl_s == 900


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(SettingsError, match="SAFEROUTES_SECRET_KEY"):
        load_settings({"SAFEROUTES_ENV": "production"})
    with pytest.raises(SettingsError):
        load_settings({"SAFEROUTES_ENV": "production", "SAFEROUTES_SECRET_KEY": DEFAULT_SECRET_KEY})


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(SettingsError):
        load_settings({"SAFEROUTES_ENV": "production", "SAFEROUTES_SECRET_KEY": "short"})


def test_production_starts_with_a_real_secret() -> None:
    settings = load_settings({"SAFEROUTES_ENV": "production", "SAFEROUTES_SECRET_KEY": "s" * 48})
    assert settings.is_production


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAFEROUTES_ACCESS_TOKEN_TTL", "3600"),
        ("SAFEROUTES_PRIVACY_EPSILON", "0"),
        ("SAFEROUTES_PRIVACY_EPSILON", "nan"),
        ("SAFEROUTES_PRIVACY_DELTA", "0.5"),
        ("SAFEROUTES_PRIVACY_BUDGET", "0.5"),
        ("SAFEROUTES_RELEASE_RESOLUTION", "11"),
        ("SAFEROUTES_RELEASE_MAX_CELLS", "0"),
        ("SAFEROUTES_H3_RESOLUTION", "15"),
        ("SAFEROUTES_RETENTION_DAYS", "0"),
        ("SAFEROUTES_PRIVACY_EPSILON", "one"),
        ("SAFEROUTES_ENV", "staging"),
        ("SAFEROUTES_DEBUG", "maybe"),
        ("SAFEROUTES_DB_POOL_SIZE", "0"),
        ("SAFEROUTES_DB_POOL_SIZE", "many"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value})


def test_values_are_read_from_the_environment() -> None:
    environ = {"DATABASE_URL": "postgresql://x@db/sr", "SAFEROUTES_PRIVACY_EPSILON": "0.5"}
    settings = load_settings({**environ, "SAFEROUTES_DB_POOL_SIZE": "5"})
    assert settings.database_url == "postgresql://x@db/sr"
    assert settings.release_policy().epsilon == 0.5
    assert settings.db_pool_size == 5
