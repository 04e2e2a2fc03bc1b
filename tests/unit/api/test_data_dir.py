"""The embedded database's folder: resolved one way for the service and every command, never from the cwd."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.database import describe
from api.settings import PROJECT_ROOT, Settings, data_dir_from, default_data_dir, load_settings

KEY = {"SAFEROUTES_SECRET_KEY": "unit-test-secret-key-0123456789-abcdef"}


def test_a_source_checkout_keeps_its_database_in_the_checkout(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    assert default_data_dir(tmp_path, {}) == tmp_path / ".saferoutes"


def test_an_installed_copy_keeps_it_in_the_per_user_data_folder(tmp_path: Path) -> None:
    installed = tmp_path / "site-packages"
    installed.mkdir()
    xdg = tmp_path / "xdg"
    assert default_data_dir(installed, {"XDG_DATA_HOME": str(xdg)}) == xdg / "saferoutes"
    home = default_data_dir(installed, {})
    assert home == Path.home() / ".local" / "share" / "saferoutes"


def test_the_default_does_not_depend_on_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    here = load_settings(KEY).data_dir
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_settings(KEY).data_dir == here == PROJECT_ROOT / ".saferoutes"
    assert Settings().data_dir == here


def test_a_relative_setting_is_made_absolute_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert data_dir_from({"SAFEROUTES_DATA_DIR": "data"}) == tmp_path / "data"
    assert data_dir_from({"SAFEROUTES_DATA_DIR": "~/sr"}) == Path.home() / "sr"


def test_the_database_is_described_without_a_password(tmp_path: Path) -> None:
    embedded = Settings(data_dir=tmp_path)
    assert describe(embedded) == f"embedded PostgreSQL at {tmp_path / 'pgdata'}"
    server = Settings(database_url="postgresql://app:hunter2-secret@db.example:6543/city?sslmode=require")
    assert describe(server) == "postgresql://app@db.example:6543/city (DATABASE_URL)"
    socket = Settings(database_url="postgresql://postgres:@/saferoutes?host=/run/pg")
    assert describe(socket) == "postgresql://postgres@/saferoutes?host=/run/pg (DATABASE_URL)"
