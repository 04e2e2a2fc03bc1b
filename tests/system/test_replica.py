"""A streaming replica behind the service: exports read from it, and lag or an outage send reads home.

The test builds the real thing with the machine's PostgreSQL 15 (Debian's
``postgresql-15``): a primary on a free port, a standby made with
``pg_basebackup -R`` streaming from it on a second port, both in a temporary
folder and stopped at the end. Two services read from the standby: one with a
bound of an hour (``tolerant``) and one of two seconds (``strict``).

How the test tells where a read was served: with the standby's replay paused,
a release is deleted on the primary, so it exists only on the standby. An
export that still names it was read there; one that names a new release was
read (and made) on the primary.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from api.database import to_async_url
from tests.system.cluster import ROOT, Cluster, Service
from tests.system.conftest import citizen, create_staff
from tests.tooling import require_or_skip

DEBIAN_PG_BIN = Path("/usr/lib/postgresql/15/bin")
STRICT_LAG_S = 2


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Cluster]]:
    require_or_skip(
        (DEBIAN_PG_BIN / "pg_basebackup").exists(),
        f"PostgreSQL 15 binaries not found in {DEBIAN_PG_BIN} (apt-get install postgresql-15)",
    )
    root = tmp_path_factory.mktemp("replication")
    primary = Cluster(root / "primary", bin=DEBIAN_PG_BIN, settings={"wal_level": "replica"})
    standby = Cluster(root / "standby", bin=DEBIAN_PG_BIN, settings={"hot_standby": "on"})
    try:
        primary.init().start()
        primary.create_database("saferoutes")
        standby.standby_of(primary).start()
        yield primary, standby
    finally:
        standby.stop()
        primary.stop()


@pytest.fixture(scope="module")
def services(
    clusters: tuple[Cluster, Cluster], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, Service]]:
    primary, standby = clusters
    started = []
    try:
        for bound in ("3600", str(STRICT_LAG_S)):
            env = {
                "SAFEROUTES_DATABASE_READ_URL": standby.url("saferoutes"),
                "SAFEROUTES_DATABASE_READ_MAX_LAG_S": bound,
                "SAFEROUTES_LOG_LEVEL": "INFO",
            }
            log = tmp_path_factory.mktemp("service") / "service.log"
            service = Service(primary.url("saferoutes"), log, workers=1, env=env)
            started.append(service)
            service.start()
        yield started[0], started[1]
    finally:
        for service in started:
            service.stop()


def _engine(url: str) -> AsyncEngine:
    return create_async_engine(to_async_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")


async def _scalar(url: str, statement: str, **params: Any) -> Any:
    engine = _engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(sa.text(statement), params)
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def _flows_release(http: httpx.AsyncClient, planner: dict[str, str]) -> str:
    answer = await http.get("/planner/flows", headers=planner)
    assert answer.status_code == 200, answer.text
    release: str = answer.json()["release"]
    return release


def _replica_reads(metrics: str, database: str) -> float:
    found = re.search(rf'^saferoutes_replica_reads_total\{{database="{database}"\}} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def _until(predicate: Any, within_s: float = 20) -> None:
    deadline = time.monotonic() + within_s
    while not await predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.2)


async def test_exports_and_public_reads_come_from_the_replica_until_it_lags_past_the_bound(
    clusters: tuple[Cluster, Cluster], services: tuple[Service, Service], tmp_path: Path
) -> None:
    primary, standby = clusters
    tolerant, strict = services
    on_primary, on_standby = primary.url("saferoutes"), standby.url("saferoutes")
    planner = {"Authorization": f"Bearer {create_staff(tolerant, 'planner')}"}
    async with (
        httpx.AsyncClient(base_url=tolerant.base_url, timeout=60) as http,
        httpx.AsyncClient(base_url=strict.base_url, timeout=60) as strict_http,
    ):
        # the first export finds no release on the replica: it is made, and charged, on the primary
        first = await _flows_release(http, planner)
        assert await _scalar(on_primary, "SELECT count(*) FROM privacy_ledger WHERE release_id = :r", r=first)

        async def replicated() -> bool:
            found = await _scalar(on_standby, "SELECT count(*) FROM privacy_release WHERE id = :r", r=first)
            return bool(found)

        await _until(replicated)
        assert await _flows_release(http, planner) == first

        # the release now exists on the standby only: replay paused, deleted on the primary
        await _scalar(on_standby, "SELECT pg_wal_replay_pause()")
        try:
            await _scalar(on_primary, "DELETE FROM privacy_release WHERE id = :r", r=first)
            reporter = await citizen(http, ("hazard_reporting",))
            reported = await http.post(
                "/hazards",
                json={"lat": 51.0259, "lon": 4.4776, "category": "road_surface", "severity": 2},
                headers={**reporter, "Idempotency-Key": "replica-hazard-1"},
            )
            assert reported.status_code == 201, reported.text
            hazard = reported.json()["hazardId"]

            # an export within the bound is read on the replica: it names the release only it holds
            assert await _flows_release(http, planner) == first
            # and so is the command line's
            exported = tmp_path / "flows.geojson"
            command = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "api.cli", "export", "flows", "-o", str(exported), "--quiet"],
                cwd=ROOT,
                env=tolerant.environment(),
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            assert "Reading from the replica" in command.stderr
            assert json.loads(exported.read_text())["release"] == first
            # and the open-data dump's (its reads tolerate lag too; a release it lacks would be made
            # on the primary, as the export's was)
            dumped = tmp_path / "opendata"
            command = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "api.cli", "open-data", "--out", str(dumped), "--quiet"],
                cwd=ROOT,
                env=tolerant.environment(),
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            assert "Reading from the replica" in command.stderr
            assert {p.name for p in dumped.iterdir()} >= {"hazards.csv", "hazards.geojson", "cells.csv"}
            # an anonymous public read is served by the replica, which has not seen the hazard yet;
            # its reporter, signed in, reads the primary and sees what they wrote
            assert (await http.get(f"/hazards/{hazard}")).status_code == 404
            assert (await http.get(f"/hazards/{hazard}", headers=reporter)).status_code == 200

            # past the strict service's bound, its exports go to the primary, which has no such
            # release and makes a new one
            await asyncio.sleep(STRICT_LAG_S + 1)
            strict_planner = {"Authorization": f"Bearer {create_staff(strict, 'planner')}"}
            second = await _flows_release(strict_http, strict_planner)
            assert second != first
            metrics = (await strict_http.get("/metrics")).text
            assert _replica_reads(metrics, "primary") >= 1
            lag = re.search(r"^saferoutes_replica_lag_seconds (\S+)$", metrics, re.M)
            assert lag is not None and float(lag.group(1)) > STRICT_LAG_S
            assert "replica behind" in strict.log_path.read_text()
        finally:
            await _scalar(on_standby, "SELECT pg_wal_replay_resume()")

        # caught up again, the strict service reads the replica again, which now has the new release
        async def strict_reads_replica() -> bool:
            before = _replica_reads((await strict_http.get("/metrics")).text, "replica")
            served = await _flows_release(strict_http, strict_planner)
            after = _replica_reads((await strict_http.get("/metrics")).text, "replica")
            return served == second and after > before

        await _until(strict_reads_replica)
        assert (await http.get(f"/hazards/{hazard}")).status_code == 200


async def test_a_stopped_replica_sends_reads_to_the_primary_and_the_service_stays_ready(
    clusters: tuple[Cluster, Cluster], services: tuple[Service, Service]
) -> None:
    _, standby = clusters
    tolerant, _ = services
    planner = {"Authorization": f"Bearer {create_staff(tolerant, 'planner')}"}
    async with httpx.AsyncClient(base_url=tolerant.base_url, timeout=60) as http:
        before = await _flows_release(http, planner)
        standby.stop()
        # reads on the replica's pooled connections when it stopped fail as any lost database does
        # (503, Retry-After); the router then measures again and finds it down
        served: list[int] = []

        async def answered_by_primary() -> bool:
            answer = await http.get("/planner/flows", headers=planner)
            served.append(answer.status_code)
            if answer.status_code == 503:
                assert answer.headers["retry-after"]
                return False
            assert answer.status_code == 200, answer.text
            return bool(answer.json()["release"] == before)

        await _until(answered_by_primary)
        assert served.count(503) <= 1, served
        assert (await http.get("/ready")).status_code == 200
        assert (await http.get("/hazards")).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert "saferoutes_replica_lag_seconds NaN" in metrics
        assert "replica unreachable" in tolerant.log_path.read_text()
