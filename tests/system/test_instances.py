"""Two `saferoutes serve` instances on one PostgreSQL behind a real HAProxy: one service, not two.

Each instance is a separate `saferoutes serve` process on a port of its own;
Debian's HAProxy balances over both and checks ``/ready``. What the instances
share lives in PostgreSQL only (docs/scaling.md), so:
- the same Idempotency-Key sent to both at once stores one ride and one award;
- a rate limit counts requests at both instances together;
- both serve the same routing graph version (it is a stamp of the data);
- restarting one instance, then the other, under a stream of uploads loses no
  acknowledged ride: a request may fail before its answer (the instance
  stopped), and the client sends it again with the same key, as the apps do.

The data is a small demo city (`saferoutes demo`), so that routes exist.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import h3
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from api.database import to_async_url
from tests.integration.ride_helpers import recent_start, ride_json, simulated
from tests.system.cluster import ROOT, Cluster, HAProxy, Service
from tests.system.conftest import PASSWORD, citizen
from tests.tooling import require_or_skip

WRITES_PER_MINUTE = 12
LOGINS_PER_MINUTE = 5
UPLOADS_PER_USER = 5
"""Uploads a streaming client makes per user, retries included well under the write limit."""
RETRIED = {502, 503, 504}
"""What a client sees when an instance stopped before answering: send again, same key."""


@dataclass
class Instances:
    database_url: str
    services: list[Service]
    balancer: HAProxy

    @property
    def a(self) -> Service:
        return self.services[0]

    @property
    def b(self) -> Service:
        return self.services[1]


@pytest.fixture(scope="module")
def instances(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    require_or_skip(shutil.which("haproxy") is not None, "haproxy not installed (apt-get install haproxy)")
    url = cluster.create_database(f"sr_{secrets.token_hex(4)}")
    env = {
        "SAFEROUTES_RATE_LIMIT_PER_MINUTE": str(WRITES_PER_MINUTE),
        "SAFEROUTES_LOGIN_ATTEMPTS_PER_MINUTE": str(LOGINS_PER_MINUTE),
    }
    logs = [tmp_path_factory.mktemp("instance") / "service.log" for _ in range(2)]
    services = [Service(url, log, workers=1, env=env) for log in logs]
    subprocess.run(  # the demo city, so that the routing network exists
        [sys.executable, "-m", "api.cli", "demo", "--users", "250", "--rides", "1200", "--quiet"],
        cwd=ROOT,
        env=services[0].environment(),
        check=True,
        timeout=300,
        capture_output=True,
    )
    balancer = HAProxy(tmp_path_factory.mktemp("haproxy"), [f"127.0.0.1:{s.port}" for s in services])
    try:
        for service in services:
            service.start()
        balancer.start()
        yield Instances(url, services, balancer)
    finally:
        balancer.stop()
        for service in services:
            service.stop()


async def _rows(url: str, query: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_async_engine(to_async_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(sa.text(query), params)).all()]
    finally:
        await engine.dispose()


async def test_the_same_key_at_both_instances_at_once_stores_one_ride_and_one_award(
    instances: Instances,
) -> None:
    async with (
        httpx.AsyncClient(base_url=instances.a.base_url, timeout=60) as a,
        httpx.AsyncClient(base_url=instances.b.base_url, timeout=60) as b,
    ):
        auth = await citizen(a, ("ride_tracking",))
        body = ride_json(simulated(11, duration_s=300).points)
        headers = {**auth, "Idempotency-Key": "two-instances-0001"}
        sent = (http.post("/rides", json=body, headers=headers) for http in [a, b] * 4)
        answers = await asyncio.gather(*sent)
    assert [x.status_code for x in answers] == [201] * 8, [x.text for x in answers][:2]
    assert answers[0].json()["pointsAwarded"] > 0
    ids = {x.json()["id"] for x in answers}
    assert len(ids) == 1, "one key was answered with several rides"
    ride_id = ids.pop()
    user = await _rows(instances.database_url, "SELECT user_id FROM ride WHERE id = :id", id=ride_id)
    rides = await _rows(instances.database_url, "SELECT id FROM ride WHERE user_id = :u", u=user[0][0])
    assert [str(r[0]) for r in rides] == [ride_id]
    awards = await _rows(
        instances.database_url,
        "SELECT amount FROM points_entry WHERE user_id = :u AND reason = 'ride' AND source = :s",
        u=user[0][0],
        s=ride_id,
    )
    assert len(awards) == 1


async def test_rate_limits_count_requests_at_both_instances_together(instances: Instances) -> None:
    async with (
        httpx.AsyncClient(base_url=instances.a.base_url, timeout=60) as a,
        httpx.AsyncClient(base_url=instances.b.base_url, timeout=60) as b,
    ):
        auth = await citizen(a, ("hazard_reporting",))
        # the guard counts before the body is read: refused bodies count too
        writes = await asyncio.gather(
            *(
                http.post("/hazards", json={}, headers={**auth, "Idempotency-Key": f"limit-{n:03d}"})
                for n, http in zip(range(WRITES_PER_MINUTE * 3), itertools.cycle([a, b]), strict=False)
            )
        )
        passed = [w for w in writes if w.status_code != 429]
        assert len(passed) == WRITES_PER_MINUTE, sorted(w.status_code for w in writes)

        handle = f"victim{secrets.token_hex(4)}"
        account = {"handle": handle, "password": PASSWORD, "birthYear": 1990}
        registered = await b.post("/auth/register", json=account)
        assert registered.status_code == 201, registered.text
        logins = await asyncio.gather(
            *(
                http.post("/auth/login", json={"handle": handle, "password": "wrong password 123"})
                for _, http in zip(range(LOGINS_PER_MINUTE * 3), itertools.cycle([a, b]), strict=False)
            )
        )
        statuses = sorted(x.status_code for x in logins)
        assert statuses == [401] * LOGINS_PER_MINUTE + [429] * (LOGINS_PER_MINUTE * 2), statuses


async def test_both_instances_serve_the_same_routing_graph_version(instances: Instances) -> None:
    # the network is the last month's release: ask once so that it is made, then route across its
    # busiest cell (the trimming of ride ends is random and the release noisy; every finer cell of a
    # released one is in the network)
    async with httpx.AsyncClient(base_url=instances.a.base_url, timeout=60) as http:
        await http.get("/routes/safe", params={"from": "51.0259,4.4776", "to": "51.0260,4.4777"})
    busiest = await _rows(
        instances.database_url,
        "SELECT v.cell FROM privacy_release_value v JOIN privacy_release r ON r.id = v.release_id"
        " WHERE r.dataset = 'cells' ORDER BY v.passes DESC, v.cell LIMIT 1",
    )
    assert busiest, "the demo city's release shows no cell"
    parent = h3.int_to_str(int(str(busiest[0][0])))
    centre = h3.cell_to_center_child(parent, 10)
    inside = [c for c in h3.grid_ring(centre, 3) if h3.cell_to_parent(c, h3.get_resolution(parent)) == parent]
    ends = [h3.cell_to_latlng(centre), h3.cell_to_latlng(min(inside))]
    route = {"from": "{:.6f},{:.6f}".format(*ends[0]), "to": "{:.6f},{:.6f}".format(*ends[1])}
    versions = set()
    for base in (instances.a.base_url, instances.b.base_url, instances.balancer.base_url):
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for _ in range(2):
                answer = await http.get("/routes/safe", params=route)
                assert answer.status_code == 200, answer.text
                versions.add(answer.json()["properties"]["graphVersion"])
    assert len(versions) == 1, versions


@dataclass
class Stream:
    """Clients uploading rides through the balancer until told to stop; what each acknowledgement said."""

    http: httpx.AsyncClient
    acknowledged: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> ride id
    earned: dict[str, int] = field(default_factory=dict)  # ride id -> the points its answer named
    retries: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def upload(self, auth: dict[str, str], seed: int, hours_ago: float) -> None:
        key = f"stream-{seed:05d}"
        body = ride_json(simulated(seed, duration_s=300, start_t=recent_start(hours_ago)).points)
        for _ in range(60):
            try:
                answer = await self.http.post("/rides", json=body, headers={**auth, "Idempotency-Key": key})
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code not in RETRIED:
                assert answer.status_code == 201, answer.text
                self.acknowledged[key] = answer.json()["id"]
                self.earned[answer.json()["id"]] = answer.json()["pointsAwarded"]
                return
            self.retries += 1
            await asyncio.sleep(0.25)
        raise AssertionError(f"{key} was never acknowledged")

    async def client(self, lane: int) -> None:
        for round_ in itertools.count():
            auth = await self._register()
            for n in range(UPLOADS_PER_USER):
                if self.stop.is_set():
                    return
                # one person's rides one after the other, never overlapping in time
                await self.upload(auth, seed=lane * 10_000 + round_ * 100 + n, hours_ago=2 + 0.25 * n)

    async def _register(self) -> dict[str, str]:
        for _ in range(60):  # a registration lost with a stopping instance is made again, as a new account
            try:
                return await citizen(self.http, ("ride_tracking",))
            except (httpx.TransportError, AssertionError):
                self.retries += 1
                await asyncio.sleep(0.25)
        raise AssertionError("no registration went through")


def _rolling_restart(instances: Instances) -> list[int]:
    """Stop each instance (SIGTERM) and start it again, one after the other; the old pids."""
    stopped = []
    for service in instances.services:
        time.sleep(1.5)
        assert service.process is not None
        stopped.append(service.process.pid)
        service.stop()
        assert service.process.returncode == 0, service.log()
        service.start()
        time.sleep(1.0)  # the balancer's check sees it up again (rise 2 x 300 ms)
    time.sleep(1.5)
    return stopped


async def test_a_rolling_restart_under_load_loses_no_acknowledged_ride(instances: Instances) -> None:
    async with httpx.AsyncClient(base_url=instances.balancer.base_url, timeout=60) as http:
        stream = Stream(http)
        clients = [asyncio.create_task(stream.client(lane)) for lane in range(4)]
        try:
            old = await asyncio.to_thread(_rolling_restart, instances)
        finally:
            stream.stop.set()
            await asyncio.gather(*clients)
    assert all(s.process is not None and s.process.pid not in old for s in instances.services)
    assert len(stream.acknowledged) >= 20, len(stream.acknowledged)
    ids = list(stream.acknowledged.values())
    assert len(set(ids)) == len(ids), "two keys were answered with one ride"
    stored = await _rows(
        instances.database_url,
        "SELECT r.id, coalesce((SELECT array_agg(p.amount) FROM points_entry p"
        " WHERE p.reason = 'ride' AND p.source = r.id::text), '{}')"
        " FROM ride r WHERE r.id::text = ANY(:ids)",
        ids=ids,
    )
    assert {str(r[0]) for r in stored} == set(ids), "an acknowledged ride is missing"
    # the award the answer announced, once (none when the daily cap was reached)
    awards = {str(r[0]): r[1] for r in stored}
    assert awards == {i: [n] if n else [] for i, n in stream.earned.items()}
    # each key stored once: the stream's users hold exactly the acknowledged rides
    users = await _rows(
        instances.database_url,
        "SELECT count(*) FROM ride WHERE user_id IN (SELECT user_id FROM ride WHERE id::text = ANY(:ids))",
        ids=ids,
    )
    assert users[0][0] == len(ids)
    print(f"rolling restart: {len(ids)} rides acknowledged, {stream.retries} requests sent again")
