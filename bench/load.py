"""Load test: a school morning against the real multi-worker service, for a fixed time.

    .venv/bin/python bench/load.py [--seconds 30] [--workers 2] [--clients 40]
    .venv/bin/python bench/load.py --login-burst [--workers 2] [--logins 40]

Starts PostgreSQL of its own (pgserver's binaries, or DATABASE_URL's server for a
scratch database) and `saferoutes serve --workers N`, seeds users with consents,
hazards and rides, then runs a mix of the morning peak: ride uploads, safe-route
queries, hazard reads and leaderboard reads. It prints per operation the
throughput, p50/p99 latency and errors, the server's memory (RSS of every
worker), and the ratio of hazard-read throughput to a hello-world route
(`GET /health`) of the same server measured in the same run.

`--login-burst` measures instead what a burst of wrong logins does to the rest
of the service, at the production Argon2 cost: `GET /health` is polled alone
(idle), then while that many wrong logins run at once; it prints /health p50
and p99 in both phases (and p99's rise over idle, the target being at most
50 ms), and the logins' answers by status (every one should be 401: no 503).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.ride_helpers import ride_json, simulated
from tests.system.cluster import Cluster, Service

MIX = (("upload_ride", 2), ("safe_route", 2), ("hazard_list", 4), ("hazard_read", 2), ("leaderboard", 2))
BBOX = "4.40,50.99,4.55,51.07"


class Stats:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def record(self, op: str, seconds: float, ok: bool) -> None:
        self.latencies[op].append(seconds)
        if not ok:
            self.errors[op] += 1


async def _register(http: httpx.AsyncClient, n: int) -> dict[str, str]:
    body = {
        "handle": f"pupil{n}-{secrets.token_hex(3)}",
        "password": "correct horse battery",
        "birthYear": 1990,
    }
    answer = await http.post("/auth/register", json=body)
    answer.raise_for_status()
    auth = {"Authorization": f"Bearer {answer.json()['accessToken']}"}
    for purpose in ("ride_tracking", "hazard_reporting", "leaderboard", "research_sharing"):
        granted = await http.put(
            f"/me/consents/{purpose}", json={"granted": True, "policyVersion": "2026-01"}, headers=auth
        )
        granted.raise_for_status()
    return auth


async def seed(
    http: httpx.AsyncClient, users: int, rides: list[dict[str, Any]]
) -> tuple[list[dict[str, str]], list[str]]:
    auths = [await _register(http, n) for n in range(users)]
    hazards: list[str] = []
    rng = random.Random(1)
    for i in range(40):
        lat, lon = 51.0 + rng.random() * 0.06, 4.42 + rng.random() * 0.1
        answer = await http.post(
            "/hazards",
            json={"lat": lat, "lon": lon, "category": "road_surface", "severity": 1 + i % 3},
            headers={**auths[i % users], "Idempotency-Key": f"seed-hazard-{i:04d}"},
        )
        answer.raise_for_status()
        hazards.append(answer.json()["hazardId"])
    for i, auth in enumerate(auths):
        answer = await http.post(
            "/rides", json=rides[i % len(rides)], headers={**auth, "Idempotency-Key": f"seed-ride-{i:05d}"}
        )
        answer.raise_for_status()
    return auths, hazards


def operations(
    auths: list[dict[str, str]], hazards: list[str], rides: list[dict[str, Any]]
) -> dict[str, Callable[[httpx.AsyncClient, random.Random], Awaitable[httpx.Response]]]:
    def upload_ride(http: httpx.AsyncClient, rng: random.Random) -> Awaitable[httpx.Response]:
        auth = rng.choice(auths)
        return http.post(
            "/rides",
            json=rng.choice(rides),
            headers={**auth, "Idempotency-Key": f"load-{secrets.token_hex(8)}"},
        )

    def safe_route(http: httpx.AsyncClient, rng: random.Random) -> Awaitable[httpx.Response]:
        a = f"{51.02 + rng.random() * 0.01:.5f},{4.47 + rng.random() * 0.01:.5f}"
        b = f"{51.02 + rng.random() * 0.01:.5f},{4.47 + rng.random() * 0.01:.5f}"
        return http.get("/routes/safe", params={"from": a, "to": b})

    return {
        "upload_ride": upload_ride,
        "safe_route": safe_route,
        "hazard_list": lambda http, rng: http.get("/hazards", params={"bbox": BBOX}),
        "hazard_read": lambda http, rng: http.get(f"/hazards/{rng.choice(hazards)}"),
        "leaderboard": lambda http, rng: http.get(
            "/leaderboards", params={"scope": "city", "period": "week"}, headers=rng.choice(auths)
        ),
        "health": lambda http, rng: http.get("/health"),
    }


async def run_for(
    http: httpx.AsyncClient,
    ops: dict[str, Any],
    weights: tuple[tuple[str, int], ...],
    clients: int,
    seconds: float,
) -> tuple[Stats, float]:
    stats = Stats()
    names = [n for n, w in weights for _ in range(w)]
    deadline = time.monotonic() + seconds

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            op = rng.choice(names)
            started = time.perf_counter()
            try:
                answer = await ops[op](http, rng)
                ok = answer.status_code < 400 or (op == "safe_route" and answer.status_code in (422, 503))
            except httpx.HTTPError:
                ok = False
            stats.record(op, time.perf_counter() - started, ok)

    started = time.monotonic()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return stats, time.monotonic() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def report(title: str, stats: Stats, elapsed: float) -> None:
    print(f"\n{title} ({elapsed:.1f} s)")
    print(f"{'operation':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'count':>8}")
    for op, values in sorted(stats.latencies.items()):
        print(
            f"{op:<14}{len(values) / elapsed:>9.1f}{_pct(values, 0.5):>9.1f}{_pct(values, 0.99):>9.1f}"
            f"{stats.errors[op]:>8}{len(values):>8}"
        )
    total = sum(len(v) for v in stats.latencies.values())
    print(f"{'all':<14}{total / elapsed:>9.1f}{'':>18}{sum(stats.errors.values()):>8}{total:>8}")


async def _poll_health(http: httpx.AsyncClient, until: Callable[[], bool]) -> list[float]:
    latencies: list[float] = []
    while not until():
        started = time.perf_counter()
        answer = await http.get("/health")
        answer.raise_for_status()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    return latencies


async def login_burst(base_url: str, logins: int, idle_s: float) -> None:
    """/health alone, then /health while `logins` wrong logins run at once (half on a real handle)."""
    limits = httpx.Limits(max_connections=logins, max_keepalive_connections=logins)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=120) as probe,
        httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as crowd,
    ):
        handle = f"burst-{secrets.token_hex(3)}"
        made = await crowd.post(
            "/auth/register", json={"handle": handle, "password": "correct horse battery"}
        )
        made.raise_for_status()
        for _ in range(3):  # warm every worker's connections and hashing threads
            await crowd.post("/auth/login", json={"handle": handle, "password": "warm-up guess"})
        deadline = time.monotonic() + idle_s
        idle = await _poll_health(probe, lambda: time.monotonic() >= deadline)

        async def guess(i: int) -> int:
            who = handle if i % 2 == 0 else f"nobody-{i}"
            try:
                answer = await crowd.post("/auth/login", json={"handle": who, "password": f"wrong guess {i}"})
            except httpx.HTTPError:
                return 0
            return answer.status_code

        started = time.perf_counter()
        burst = asyncio.gather(*(guess(i) for i in range(logins)))
        during = await _poll_health(probe, burst.done)
        statuses = Counter(await burst)
        elapsed = time.perf_counter() - started
    idle_p50, idle_p99 = _pct(idle, 0.5), _pct(idle, 0.99)
    busy_p50, busy_p99 = _pct(during, 0.5), _pct(during, 0.99)
    print(f"\n{logins} concurrent wrong logins: all answered in {elapsed:.1f} s")
    print(f"{'GET /health':<14}{'p50 ms':>9}{'p99 ms':>9}{'count':>8}")
    print(f"{'idle':<14}{idle_p50:>9.1f}{idle_p99:>9.1f}{len(idle):>8}")
    print(f"{'during burst':<14}{busy_p50:>9.1f}{busy_p99:>9.1f}{len(during):>8}")
    print(
        f"p50 ratio {busy_p50 / idle_p50:.2f}, p99 ratio {busy_p99 / idle_p99:.2f}; "
        f"p99 over idle: {busy_p99 - idle_p99:+.1f} ms (target <= +50 ms)"
    )
    others = {status: n for status, n in statuses.items() if status != 401}
    print(f"login answers by status: {dict(sorted(statuses.items()))}; non-401: {sum(others.values())}")
    print(f"503s: {statuses.get(503, 0)} (must be 0); transport errors: {statuses.get(0, 0)}")


async def main(args: argparse.Namespace) -> None:
    if args.login_burst:
        await main_login_burst(args)
        return
    with tempfile.TemporaryDirectory(prefix="sr-load-") as tmp:
        cluster = Cluster(Path(tmp) / "pg").init().start()
        service = Service(cluster.create_database("load"), Path(tmp) / "service.log", workers=args.workers)
        try:
            service.start()
            limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
            async with httpx.AsyncClient(base_url=service.base_url, timeout=60, limits=limits) as http:
                rides = [ride_json(simulated(s, duration_s=900).points) for s in range(8)]
                auths, hazards = await seed(http, args.users, rides)
                ops = operations(auths, hazards, rides)
                await run_for(http, ops, (("health", 1), ("hazard_list", 1)), args.clients, 2)  # warm-up
                morning, elapsed = await run_for(http, ops, MIX, args.clients, args.seconds)
                report(f"school morning, {args.clients} clients, {args.workers} workers", morning, elapsed)
                rss = sum(p.memory_info().rss for p in service.processes()) / 2**20
                print(f"server RSS: {rss:.0f} MiB over {len(service.processes())} processes")
                short = max(5.0, args.seconds / 3)
                hazard_only, h_elapsed = await run_for(http, ops, (("hazard_list", 1),), args.clients, short)
                hello, hello_elapsed = await run_for(http, ops, (("health", 1),), args.clients, short)
                hazard_rps = len(hazard_only.latencies["hazard_list"]) / h_elapsed
                hello_rps = len(hello.latencies["health"]) / hello_elapsed
                print(
                    f"hazard reads {hazard_rps:.0f}/s vs hello-world GET /health {hello_rps:.0f}/s: "
                    f"ratio {hazard_rps / hello_rps:.2f}"
                )
                p50 = statistics.median(hazard_only.latencies["hazard_list"]) * 1000
                print(f"hazard read p50 alone: {p50:.1f} ms")
        finally:
            service.stop()
            cluster.stop()


async def main_login_burst(args: argparse.Namespace) -> None:
    """The service at the production Argon2 cost (the system tests' cluster hashes cheaply)."""
    production_cost = {
        "SAFEROUTES_ARGON2_TIME_COST": "3",
        "SAFEROUTES_ARGON2_MEMORY_KIB": str(64 * 1024),
    }
    with tempfile.TemporaryDirectory(prefix="sr-load-") as tmp:
        cluster = Cluster(Path(tmp) / "pg").init().start()
        service = Service(
            cluster.create_database("load"),
            Path(tmp) / "service.log",
            workers=args.workers,
            env=production_cost,
        )
        try:
            service.start()
            await login_burst(service.base_url, args.logins, args.idle_seconds)
        finally:
            service.stop()
            cluster.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--login-burst", action="store_true", help="only the login-burst scenario")
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--idle-seconds", type=float, default=5)
    asyncio.run(main(parser.parse_args()))
