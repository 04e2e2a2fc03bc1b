"""Durability: PostgreSQL killed with SIGKILL under upload load, restarted; nothing acknowledged is lost.

The service runs with two workers on a PostgreSQL of the test's own. Clients
upload rides in a loop; mid-load the postmaster and every backend get SIGKILL.
Requests during the outage must end quickly as 503 problem documents (never a
500, never a hang); once PostgreSQL is back (crash recovery on the same data
directory) the service must answer again without being restarted; every ride
that got a 2xx must be there, and clients retrying the failed uploads with
their Idempotency-Keys must end with each ride stored exactly once.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.integration.ride_helpers import ride_json, simulated
from tests.system.cluster import ROOT, Cluster, Service
from tests.system.conftest import StartService, citizen

CLIENTS = 6
OUTAGE_S = 4.0


@dataclass
class Upload:
    key: str
    body: dict[str, Any]
    auth: dict[str, str]
    statuses: list[int] = field(default_factory=list)
    ride_id: str | None = None


@dataclass
class Outcome:
    uploads: list[Upload] = field(default_factory=list)
    outage_answers: list[tuple[int, str, float]] = field(default_factory=list)


async def _upload(http: httpx.AsyncClient, upload: Upload) -> httpx.Response:
    answer = await http.post(
        "/rides", json=upload.body, headers={**upload.auth, "Idempotency-Key": upload.key}, timeout=30
    )
    upload.statuses.append(answer.status_code)
    if answer.is_success:
        upload.ride_id = answer.json()["id"]
    return answer


async def _client(
    http: httpx.AsyncClient,
    auth: dict[str, str],
    seed: int,
    stop: asyncio.Event,
    down: asyncio.Event,
    out: Outcome,
) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        upload = Upload(
            f"dur-{seed}-{n}-{secrets.token_hex(4)}", ride_json(simulated(seed * 1000 + n).points), auth
        )
        out.uploads.append(upload)
        started = time.monotonic()
        try:
            answer = await _upload(http, upload)
        except httpx.HTTPError as exc:  # a reset connection counts as an unanswered request, retried later
            upload.statuses.append(0)
            if down.is_set():
                out.outage_answers.append((0, type(exc).__name__, time.monotonic() - started))
            continue
        if down.is_set():
            out.outage_answers.append(
                (answer.status_code, answer.headers.get("content-type", ""), time.monotonic() - started)
            )
            await asyncio.sleep(0.2)


async def _until_recovered(http: httpx.AsyncClient, auth: dict[str, str], deadline: float) -> float:
    """Seconds until an authenticated read succeeds again after the restart."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            if (await http.get("/rides", headers=auth, timeout=10)).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError("the service did not recover by itself after PostgreSQL came back")


async def test_acknowledged_rides_survive_a_sigkill_of_postgresql_and_retries_store_each_once(
    cluster: Cluster, start_service: StartService
) -> None:
    service: Service = start_service(workers=2, SAFEROUTES_RATE_LIMIT_PER_MINUTE="100000")
    out = Outcome()
    async with httpx.AsyncClient(base_url=service.base_url, timeout=30) as http:
        users = [await citizen(http, ("ride_tracking",)) for _ in range(CLIENTS)]
        stop, down = asyncio.Event(), asyncio.Event()
        load = [asyncio.create_task(_client(http, users[i], i + 1, stop, down, out)) for i in range(CLIENTS)]

        await asyncio.sleep(3)
        acknowledged_before = sum(1 for u in out.uploads if u.ride_id)
        cluster.kill()
        down.set()
        await asyncio.sleep(OUTAGE_S)
        down.clear()
        await asyncio.to_thread(cluster.start)
        recovery_s = await _until_recovered(http, users[0], time.monotonic() + 60)
        await asyncio.sleep(2)
        stop.set()
        await asyncio.gather(*load)

        assert acknowledged_before > 0, "no upload succeeded before the kill; the load did not run"
        assert out.outage_answers, "no request was made during the outage"
        for status, content_type, seconds in out.outage_answers:
            assert status in (0, 201, 503), (status, content_type)  # 201: committed just before the kill
            assert status != 500
            assert seconds < 15, f"a request hung for {seconds:.1f}s during the outage"
            if status == 503:
                assert content_type.startswith("application/problem+json"), content_type
        assert any(status == 503 for status, _, _ in out.outage_answers), out.outage_answers[:5]
        assert recovery_s < 60

        # every acknowledged ride is there
        acknowledged = [u for u in out.uploads if u.ride_id is not None]
        for upload in acknowledged:
            found = await http.get(f"/rides/{upload.ride_id}", headers=upload.auth)
            assert found.status_code == 200, (upload.key, found.text)

        # clients retry what failed, with the same keys; a replay of an acknowledged one changes nothing
        for upload in out.uploads:
            first = upload.ride_id
            answer = await _upload(http, upload)
            assert answer.status_code == 201, answer.text
            assert first is None or upload.ride_id == first, "a replay answered another ride"

        stored: dict[str, int] = {}
        for auth in users:
            cursor: str | None = None
            while True:
                params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                listing = await http.get("/rides", params=params, headers=auth)
                assert listing.status_code == 200, listing.text
                page = listing.json()
                for item in page["items"]:
                    stored[item["id"]] = stored.get(item["id"], 0) + 1
                cursor = page.get("nextCursor")
                if not cursor:
                    break
    ids = [u.ride_id for u in out.uploads]
    assert len(set(ids)) == len(out.uploads), "two keys were answered with one ride"
    assert set(stored) == set(ids), "a ride is missing, or one was stored without an answer"
    assert all(count == 1 for count in stored.values())


def test_the_service_refuses_to_start_on_a_database_with_fsync_off(tmp_path: Any) -> None:
    unsafe = Cluster(tmp_path / "pg", settings={"fsync": "off"}).init().start()
    try:
        url = unsafe.create_database("unsafe")
        service = Service(url, tmp_path / "service.log", workers=1)
        result = subprocess.run(  # noqa: S603
            service.command(),
            env=service.environment(),
            capture_output=True,
            timeout=120,
            check=False,
            text=True,
            cwd=ROOT,
        )
    finally:
        unsafe.stop()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "fsync" in result.stderr
