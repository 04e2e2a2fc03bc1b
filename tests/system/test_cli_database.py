"""Every command says which database it uses, and the folder it is run from does not change it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.system.cluster import Cluster, EmbeddedService, Service


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "api.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_commands_from_two_folders_use_one_embedded_database_and_say_where(tmp_path: Path) -> None:
    data_dir = (tmp_path / "data").resolve()
    embedded = EmbeddedService("", tmp_path / "unused.log", data_dir=data_dir)
    env = embedded.environment()
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    user = ["create-user", "--handle", "planner-one", "--password", "long enough 1", "--role", "planner"]

    made = _run(here, env, *user)
    again = _run(there, env, *user)
    seen = _run(there, env, "demo", "--if-empty", "--quiet")

    assert made.returncode == 0, made.stderr
    assert again.returncode == 1, "the second folder saw another, empty database"
    assert "already taken" in again.stderr
    assert seen.returncode == 0, seen.stderr
    assert "already holds users" in seen.stderr
    for done in (made, again, seen):
        assert f"Database: embedded PostgreSQL at {data_dir / 'pgdata'}" in done.stderr
    assert os.listdir(here) == [] and os.listdir(there) == [], "a command made a database where it ran"
    assert not embedded.postgres_processes(), "the last command left the embedded server running"


def test_a_command_names_the_configured_server_without_its_password(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "pg").init().start()
    try:
        url = cluster.create_database("named").replace("postgres@", "postgres:s3cret-pw@")
        service = Service(url, tmp_path / "unused.log")
        done = _run(tmp_path, service.environment(), "migrate")
    finally:
        cluster.stop()
    assert done.returncode == 0, done.stderr
    assert f"Database: postgresql://postgres@127.0.0.1:{cluster.port}/named (DATABASE_URL)" in done.stderr
    assert "s3cret-pw" not in done.stderr
