"""The embedded PostgreSQL under `saferoutes serve`: brought back after a crash, stopped with the service.

Each test runs the real command without DATABASE_URL, so the service starts
its own PostgreSQL (pgserver's binaries) in a data directory of the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.system.cluster import EmbeddedService

RECOVERY_S = 60


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One data directory for the module (initdb once); every test leaves no server running in it."""
    path = tmp_path_factory.mktemp("embedded").resolve() / "data"
    yield path
    leftover = EmbeddedService("", path.parent / "none.log", data_dir=path).postgres_processes()
    for process in leftover:
        process.kill()
    assert not leftover, "a test left the embedded PostgreSQL running"


def _service(data_dir: Path, tmp_path: Path, workers: int) -> EmbeddedService:
    return EmbeddedService("", tmp_path / "service.log", workers=workers, data_dir=data_dir)


def _stop(service: EmbeddedService, signum: int = signal.SIGTERM) -> int:
    assert service.process is not None
    service.process.send_signal(signum)
    return service.process.wait(timeout=60)


def _ready(service: EmbeddedService) -> int:
    try:
        return httpx.get(service.base_url + "/ready", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def _wait_gone(processes: list[psutil.Process], timeout: float = 15) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_embedded_postgres_is_restarted_and_ready_comes_back_by_itself(
    data_dir: Path, tmp_path: Path, workers: int
) -> None:
    service = _service(data_dir, tmp_path, workers).start()
    try:
        victims = service.postgres_processes()
        first = service.postmaster()
        assert first in victims
        for process in victims:  # postmaster and every backend at once, as a crash would
            process.send_signal(signal.SIGKILL)
        assert not _wait_gone(victims, timeout=10)

        # Until the supervisor has it back (about a second), answers are 503 problems with a
        # Retry-After; a restart quicker than this request leaves nothing to see, so only a 503 is judged.
        down = _login(service)
        if down.status_code != 401:
            assert down.status_code == 503, down.text
            assert down.headers["content-type"].startswith("application/problem+json")
            assert int(down.headers["retry-after"]) > 0
        not_ready = httpx.get(service.base_url + "/ready", timeout=15)
        if not_ready.status_code != 200:
            assert not_ready.status_code == 503
            assert int(not_ready.headers["retry-after"]) > 0

        deadline = time.monotonic() + RECOVERY_S
        while _ready(service) != 200:
            assert time.monotonic() < deadline, f"/ready did not come back by itself: {service.log()}"
            time.sleep(0.3)
        assert service.postmaster().pid != first.pid
        # every worker's pool finds the new server (a worker may answer one more 503 with Retry-After
        # while it swaps a dead connection): the database answers again, an unknown handle
        while (login := _login(service)).status_code == 503:
            assert time.monotonic() < deadline, f"logins did not come back: {service.log()}"
            time.sleep(0.3)
        assert login.status_code == 401, login.text
        log = service.log()
        assert "embedded PostgreSQL is down; restarting it" in log
        assert "embedded PostgreSQL is back" in log
    finally:
        assert _stop(service) == 0, service.log()
    assert not service.postgres_processes()


def _login(service: EmbeddedService) -> httpx.Response:
    body = {"handle": "someone", "password": "whatever1"}
    return httpx.post(service.base_url + "/auth/login", json=body, timeout=15)


@pytest.mark.parametrize(
    ("signum", "workers"), [(signal.SIGTERM, 1), (signal.SIGINT, 1), (signal.SIGTERM, 2)]
)
def test_stopping_serve_stops_its_embedded_postgres(
    data_dir: Path, tmp_path: Path, signum: int, workers: int
) -> None:
    service = _service(data_dir, tmp_path, workers).start()
    cluster = service.postgres_processes()
    assert cluster
    assert _stop(service, signum) == 0, service.log()
    assert not _wait_gone(cluster), f"postgres outlived the service: {service.log()}"
    assert not (service.pgdata / "postmaster.pid").exists()
    assert json.loads((data_dir / "postgres.holders").read_text()) == []


def test_a_start_after_a_sigkill_of_everything_cleans_the_stale_records_and_stops_cleanly(
    data_dir: Path, tmp_path: Path
) -> None:
    crashed = _service(data_dir, tmp_path, 1).start()
    everything = [*crashed.processes(), *crashed.postgres_processes()]
    for process in everything:
        process.send_signal(signal.SIGKILL)
    assert not _wait_gone(everything, timeout=10)
    assert crashed.process is not None
    crashed.process.wait(timeout=10)
    # what the crash left: postmaster.pid of a dead server, a holder that is gone, and
    # pgserver's own list of holders (kept by earlier versions) naming a dead process
    assert (crashed.pgdata / "postmaster.pid").exists()
    dead = crashed.process.pid
    assert any(h["pid"] == dead for h in json.loads((data_dir / "postgres.holders").read_text()))
    (crashed.pgdata / ".handle_pids.json").write_text(json.dumps([dead]))

    service = EmbeddedService("", tmp_path / "second.log", workers=1, data_dir=data_dir).start()
    assert service.postmaster().is_running()
    assert not (crashed.pgdata / ".handle_pids.json").exists()
    holders = json.loads((data_dir / "postgres.holders").read_text())
    assert [h["pid"] for h in holders] == [service.process.pid if service.process else None]
    cluster = service.postgres_processes()
    assert _stop(service) == 0
    assert not _wait_gone(cluster)
    assert "remaining pids" not in service.log()


def test_an_orphaned_server_is_adopted_by_the_next_start_and_stopped_with_it(
    data_dir: Path, tmp_path: Path
) -> None:
    crashed = _service(data_dir, tmp_path, 1).start()
    orphan = crashed.postmaster()
    for process in crashed.processes():  # only the service dies; its PostgreSQL stays behind
        process.send_signal(signal.SIGKILL)
    assert crashed.process is not None
    crashed.process.wait(timeout=10)
    assert orphan.is_running()
    (crashed.pgdata / ".handle_pids.json").write_text(
        json.dumps([crashed.process.pid])
    )  # as pgserver left it

    service = EmbeddedService("", tmp_path / "second.log", workers=1, data_dir=data_dir).start()
    assert service.postmaster().pid == orphan.pid, "a second server was started instead of joining"
    assert not (crashed.pgdata / ".handle_pids.json").exists()
    assert _stop(service) == 0
    assert not _wait_gone([orphan]), "the adopted server outlived the service"


def test_a_command_run_while_serve_runs_leaves_the_server_to_serve(data_dir: Path, tmp_path: Path) -> None:
    service = _service(data_dir, tmp_path, 1).start()
    try:
        env = service.environment()
        migrate = subprocess.run(  # noqa: S603
            [*service.command()[:3], "migrate"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        assert f"Database: embedded PostgreSQL at {service.pgdata}" in migrate.stderr
        assert _ready(service) == 200, "the command stopped the server the service uses"
    finally:
        assert _stop(service) == 0
    assert not service.postgres_processes()
    assert os.listdir(tmp_path) == ["service.log"], "the command made files where it was run"


class BareApp(EmbeddedService):
    """The app factory under uvicorn itself, not `saferoutes serve` (the database is then the app's)."""

    def command(self) -> list[str]:
        app = ["api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(self.port)]
        return [sys.executable, "-m", "uvicorn", *app]


def test_the_app_run_without_saferoutes_serve_also_brings_its_embedded_postgres_back(
    data_dir: Path, tmp_path: Path
) -> None:
    service = BareApp("", tmp_path / "app.log", workers=1, data_dir=data_dir)
    migrate = [sys.executable, "-m", "api.cli", "migrate"]  # the app itself never migrates
    env = service.environment()
    subprocess.run(migrate, env=env, cwd=tmp_path, check=True, capture_output=True, timeout=180)  # noqa: S603
    service.start()
    try:
        first = service.postmaster()
        first.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + RECOVERY_S
        while _ready(service) != 200:
            assert time.monotonic() < deadline, f"/ready did not come back by itself: {service.log()}"
            time.sleep(0.3)
        assert service.postmaster().pid != first.pid
    finally:
        cluster = service.postgres_processes()
        _stop(service, signal.SIGINT)
    assert not _wait_gone(cluster), "postgres outlived the app"
