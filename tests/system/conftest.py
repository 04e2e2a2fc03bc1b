"""Fixtures for the system tests: an own PostgreSQL cluster and the real multi-worker service on it."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.integration import ride_helpers
from tests.system.cluster import ROOT, Cluster, Service

PASSWORD = "correct horse battery"
STAFF_PASSWORD = "staff password 1"
CONSENTS = ("ride_tracking", "hazard_reporting", "leaderboard", "research_sharing")


@pytest.fixture(autouse=True)
def wall_clock_rides(monkeypatch: pytest.MonkeyPatch) -> None:
    """System tests drive real ``saferoutes serve`` processes, which run on the machine's clock, so
    the rides they upload are dated by that clock too (the upload window is judged by the server)."""
    monkeypatch.setattr(ride_helpers, "session_clock", lambda: datetime.now(UTC))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "system" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    pg = Cluster(tmp_path_factory.mktemp("pg")).init().start()
    yield pg
    pg.stop()


StartService = Callable[..., Service]


@pytest.fixture(scope="module")
def start_service(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartService]:
    """Start `saferoutes serve` on a fresh database of the cluster; every one is stopped at the end."""
    started: list[Service] = []

    def start(workers: int = 2, **env: str) -> Service:
        url = cluster.create_database(f"sr_{secrets.token_hex(4)}")
        log = tmp_path_factory.mktemp("service") / "service.log"
        service = Service(url, log, workers=workers, env=env)
        started.append(service)
        return service.start()

    yield start
    for service in started:
        service.stop()


def create_staff(service: Service, role: str, school_id: str | None = None) -> str:
    """An account that cannot register itself, made the CLI way; its access token."""
    handle = f"{role}-{secrets.token_hex(4)}"
    args = ["create-user", "--handle", handle, "--password", STAFF_PASSWORD, "--role", role]
    if school_id is not None:
        args += ["--school", school_id]
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=service.environment(),
        check=True,
        timeout=120,
        capture_output=True,
    )
    answer = httpx.post(
        service.base_url + "/auth/login", json={"handle": handle, "password": STAFF_PASSWORD}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["accessToken"]
    return token


async def citizen(
    http: httpx.AsyncClient, consents: tuple[str, ...] = CONSENTS, **fields: object
) -> dict[str, str]:
    """Register an adult with the given consents; the Authorization header to use."""
    body = {"handle": f"u{secrets.token_hex(6)}", "password": PASSWORD, "birthYear": 1990, **fields}
    answer = await http.post("/auth/register", json=body)
    assert answer.status_code == 201, answer.text
    auth = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
    for purpose in consents:
        granted = await http.put(
            f"/me/consents/{purpose}", json={"granted": True, "policyVersion": "2026-01"}, headers=auth
        )
        assert granted.status_code == 200, granted.text
    return auth
