"""Settings come from the environment once and refuse unsafe production setups."""

from __future__ import annotations

import stat
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from api.settings import (
    SECRET_KEY_FILE,
    Settings,
    SettingsError,
    check_tile_template,
    development_secret,
    load_settings,
)
from domain.accounts.rules import TokenIssuer
from domain.core.errors import Unauthenticated
from tests.clock import TEST_NOW

FORMERLY_PUBLISHED_KEY = "dev-insecure-secret-change-me-please-0123456789"


@pytest.fixture
def dev(tmp_path: Path) -> dict[str, str]:
    """A development environment whose data directory is the test's own."""
    return {"SAFEROUTES_DATA_DIR": str(tmp_path / "data")}


def test_defaults_are_development_with_an_embedded_database(dev: dict[str, str]) -> None:
    settings = load_settings(dev)
    assert settings.env == "development"
    assert settings.database_url is None
    assert (settings.privacy_epsilon, settings.privacy_budget, settings.release_resolution) == (1.0, 4.0, 8)
    assert settings.h3_resolution == 10
    assert settings.access_token_ttl_s == 900


def test_a_development_server_makes_its_own_key_on_first_start_and_keeps_it(
    dev: dict[str, str], tmp_path: Path
) -> None:
    first = load_settings(dev).secret_key
    key_file = tmp_path / "data" / SECRET_KEY_FILE
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_settings(dev).secret_key == first, "kept with the data, so tokens survive a restart"
    other = load_settings({"SAFEROUTES_DATA_DIR": str(tmp_path / "elsewhere")}).secret_key
    assert other != first, "one key per data directory"
    assert load_settings({**dev, "SAFEROUTES_SECRET_KEY": "k" * 40}).secret_key == "k" * 40


def test_no_signing_key_is_written_in_the_source(dev: dict[str, str]) -> None:
    assert Settings().secret_key != Settings().secret_key
    assert load_settings(dev).secret_key != FORMERLY_PUBLISHED_KEY
    for source in Path(__file__).resolve().parents[3].glob("api/**/*.py"):
        assert FORMERLY_PUBLISHED_KEY not in source.read_text(), source


def test_a_token_signed_with_the_formerly_published_key_is_refused(dev: dict[str, str]) -> None:
    settings = load_settings(dev)
    forged = TokenIssuer(
        FORMERLY_PUBLISHED_KEY, settings.jwt_issuer, settings.jwt_audience, timedelta(minutes=5)
    )
    server = TokenIssuer(
        settings.secret_key, settings.jwt_issuer, settings.jwt_audience, timedelta(minutes=5)
    )
    token = forged.issue(uuid.uuid4(), login_id=uuid.uuid4(), now=TEST_NOW)
    with pytest.raises(Unauthenticated):
        server.verify(token, now=TEST_NOW)


def test_a_damaged_key_file_is_refused_rather_than_signing_with_it(
    dev: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / SECRET_KEY_FILE).write_text("short\n")
    with pytest.raises(SettingsError, match="delete it"):
        load_settings(dev)


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    keys = {development_secret(tmp_path) for _ in range(5)}
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == [SECRET_KEY_FILE], "no draft left behind"


def test_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SAFEROUTES_SECRET_KEY"):
        load_settings({"SAFEROUTES_ENV": "production", "SAFEROUTES_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / SECRET_KEY_FILE).exists(), "production never makes a key of its own"


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
def test_bad_values_are_refused_with_the_variable_named(dev: dict[str, str], name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({**dev, name: value})


def test_values_are_read_from_the_environment(dev: dict[str, str]) -> None:
    environ = {**dev, "DATABASE_URL": "postgresql://x@db/sr", "SAFEROUTES_PRIVACY_EPSILON": "0.5"}
    settings = load_settings({**environ, "SAFEROUTES_DB_POOL_SIZE": "5"})
    assert settings.database_url == "postgresql://x@db/sr"
    assert settings.release_policy().epsilon == 0.5
    assert settings.db_pool_size == 5


def test_a_data_directory_that_cannot_keep_a_key_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(SettingsError, match="SAFEROUTES_SECRET_KEY"):
        load_settings({"SAFEROUTES_DATA_DIR": str(blocker / "data")})


def test_a_read_replica_needs_a_primary_server_and_a_sane_lag_bound(dev: dict[str, str]) -> None:
    replica = {"SAFEROUTES_DATABASE_READ_URL": "postgresql://ro@standby/saferoutes"}
    with pytest.raises(SettingsError, match="SAFEROUTES_DATABASE_READ_URL needs DATABASE_URL"):
        load_settings(dev | replica)
    both = dev | replica | {"DATABASE_URL": "postgresql://app@primary/saferoutes"}
    settings = load_settings(both)
    assert settings.database_read_url == "postgresql://ro@standby/saferoutes"
    assert settings.database_read_max_lag_s == 30.0
    for bad in ("0", "-1", "1e9", "soon"):
        with pytest.raises(SettingsError, match="SAFEROUTES_DATABASE_READ_MAX_LAG_S"):
            load_settings(both | {"SAFEROUTES_DATABASE_READ_MAX_LAG_S": bad})


def test_the_basemap_tile_template_is_read_and_its_origin_kept(dev: dict[str, str]) -> None:
    template = "https://tiles.example.org/city/{z}/{x}/{y}.png"
    settings = load_settings({**dev, "SAFEROUTES_BASEMAP_TILES": template})
    assert settings.basemap_tiles == template
    assert check_tile_template(template) == "https://tiles.example.org"
    assert load_settings(dev).basemap_tiles is None


@pytest.mark.parametrize(
    "template",
    [
        "ftp://tiles.example.org/{z}/{x}/{y}.png",
        "https://tiles.example.org/{z}/{x}.png",
        "https://user@tiles.example.org/{z}/{x}/{y}.png",
        "https://tiles.example.org/{z}/{x}/{y}.png?key=1",
        "https://tiles.example.org/{z}/{x}/{y}.png; script-src *",
        'https://tiles.example.org/{z}/{x}/{y}.png" onload="x',
        "https://*.example.org/{z}/{x}/{y}.png",
        "//tiles.example.org/{z}/{x}/{y}.png",
    ],
)
def test_a_tile_template_that_is_no_plain_origin_is_refused(dev: dict[str, str], template: str) -> None:
    with pytest.raises(SettingsError, match="SAFEROUTES_BASEMAP_TILES"):
        load_settings({**dev, "SAFEROUTES_BASEMAP_TILES": template})


def test_production_tiles_come_over_https(tmp_path: Path) -> None:
    env = {
        "SAFEROUTES_ENV": "production",
        "SAFEROUTES_SECRET_KEY": "k" * 40,
        "SAFEROUTES_DATA_DIR": str(tmp_path),
    }
    with pytest.raises(SettingsError, match="https"):
        load_settings({**env, "SAFEROUTES_BASEMAP_TILES": "http://tiles.example.org/{z}/{x}/{y}.png"})
