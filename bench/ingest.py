"""End-to-end ride ingestion: the real service, real PostgreSQL, concurrent uploads.

Run: ``.venv/bin/python bench/ingest.py [--clients 50] [--seconds 30] [--warmup 5] [--workers 1]
[--rate R] [--floor]``.

Starts ``saferoutes serve`` on a free port against PostgreSQL (an embedded
server in a temporary folder, or ``DATABASE_URL`` if set: use a scratch
database, the bench leaves its users and rides there), registers one user
per client with the ride_tracking consent, and has every client upload
simulated 30-minute bike rides (1 800 points, JSON) back to back: first
for ``--warmup`` seconds unmeasured, then, once PostgreSQL has analyzed the
tables (as autovacuum does in a running service), for the measured time
(closed loop: 50 uploads always in flight, so the latency is at
least 50 / throughput, which it prints); ``--rate R`` instead lets uploads
arrive at R per second (open loop, Poisson), the way a school morning does,
and prints how many were in flight at most. Prints rides/s, points/s,
p50/p99 latency, the CPU per ride of the service and of the bench client
(whose bodies for the measured run are encoded before it starts: see
``--prebuild-rate``),
how busy the machine's cores were, and two ratios measured in the same run:
- pipeline: ``process_trace`` points/s over the bare ``h3.latlng_to_cell``
  loop on the same points (target >= 0.5);
- end-to-end points/s over asyncpg ``copy_records_to_table`` of as many rows
  as points were uploaded, in 1,800-row batches, right after the uploads (the
  median of three timings, as the shared machine's speed drifts) (target >= 0.3).
``--floor`` then repeats the same load with every upload rejected at the door
(no Idempotency-Key: 422 after authentication and the rate limit, before the
body is parsed): what HTTP, authentication and the machine cost alone, the
latency no upload can beat on this machine, and the ratio of the uploads'
rides/s to it.
No assertions: it reports figures.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pipeline import bare_loop, best_of  # noqa: E402
from domain.rides.rules import process_trace  # noqa: E402
from geo.points import TracePoint  # noqa: E402
from geo.simulator import simulate_ride, street_grid  # noqa: E402

POINTS_PER_RIDE = 1800


@contextmanager
def database() -> Iterator[str]:
    """A PostgreSQL URL: DATABASE_URL, or a fresh embedded server that is stopped afterwards."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield configured
        return
    import pgserver  # type: ignore[import-untyped]

    with tempfile.TemporaryDirectory(prefix="sr-bench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pgdata", cleanup_mode="stop")
        server.psql("CREATE DATABASE bench;")
        try:
            yield server.get_uri("bench")
        finally:
            server.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _processes() -> dict[int, tuple[str, int, float]]:
    """Every process's (name, parent, user + system CPU seconds so far), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, rest = (entry / "stat").read_text().split("(", 1)[1].rsplit(")", 1)
            except (OSError, ValueError):
                continue
            fields = rest.split()
            found[int(entry.name)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_seconds(root: int) -> float:
    """User + system CPU of a process tree so far."""
    procs = _processes()
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, (_, ppid, _) in procs.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(procs[pid][2] for pid in tree if pid in procs)


def postgres_cpu_seconds() -> float:
    """User + system CPU so far of the processes named postgres: the server, when it runs on
    this machine (whatever else it serves meanwhile counts too). A backend that exits takes its
    CPU with it: a pool that closes connections during the run makes this read low."""
    return sum(cpu for name, _, cpu in _processes().values() if name == "postgres")


@contextmanager
def service(url: str, port: int, workers: int) -> Iterator[tuple[str, int]]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SAFEROUTES_RATE_LIMIT_PER_MINUTE": "1000000",
        "SAFEROUTES_REGISTER_PER_HOUR": "1000000",
        "SAFEROUTES_ARGON2_TIME_COST": "1",
        "SAFEROUTES_ARGON2_MEMORY_KIB": "1024",
        "SAFEROUTES_LOG_LEVEL": "WARNING",
    }
    cmd = [str(ROOT / ".venv/bin/saferoutes"), "serve", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603 - our own CLI
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("the service did not become ready in 60 s")
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def pipeline(rides: list[tuple[TracePoint, ...]]) -> None:
    now = datetime.now(UTC)
    for points in rides:
        process_trace(points, now=now, trim_radius_m=200.0)


async def new_user(client: httpx.AsyncClient) -> dict[str, str]:
    handle = f"bench{uuid.uuid4().hex[:12]}"
    reg = await client.post("/auth/register", json={"handle": handle, "password": "bench password 1"})
    reg.raise_for_status()
    auth = {"Authorization": f"Bearer {reg.json()['accessToken']}"}
    consent = {"granted": True, "policyVersion": "2026-01"}
    (await client.put("/me/consents/ride_tracking", json=consent, headers=auth)).raise_for_status()
    return auth


class Trips:
    """Upload bodies in which every trip is new, as in a real city.

    A client's ``j``-th upload is one of the simulated rides, moved back in time
    by ``j`` ride slots (35 min each) and across the map by ``j // rotation``
    diagonal steps of about 300 m, where ``rotation`` is how many base rides a
    client cycles through. So no upload repeats or overlaps one of its rider's
    earlier trips, and none is flagged as a duplicate by the anti-cheat checks
    (re-sending the same few traces, as this bench once did, measured the
    duplicate path: 95 % of its rides were flagged and earned nothing).
    """

    SLOT_S = 35 * 60
    STEP_DEG = (0.0027, 0.0040)

    def __init__(self, rides: list[tuple[TracePoint, ...]], clients: int) -> None:
        self._rides = [
            ([p.lat for p in r], [p.lon for p in r], [p.t for p in r], [p.accuracy for p in r]) for r in rides
        ]
        self._clients = clients
        self._rotation = max(1, len(rides) // clients)
        self._sent = [0] * clients
        self._ready: list[collections.deque[bytes]] = [collections.deque() for _ in range(clients)]
        self.encoded_live = 0

    def prebuild(self, per_client: int) -> int:
        """Encode each client's next `per_client` bodies now, so that the measured run does not
        spend the machine's CPU on them (about 1 ms each); the bytes held."""
        held, self.encoded_live = 0, 0
        for client, ready in enumerate(self._ready):
            for _ in range(per_client):
                ready.append(self._encode(client))
                held += len(ready[-1])
        return held

    def next_body(self, client: int) -> bytes:
        """The body of this client's next upload: prebuilt, or encoded now if none is left."""
        if self._ready[client]:
            return self._ready[client].popleft()
        self.encoded_live += 1
        return self._encode(client)

    def _encode(self, client: int) -> bytes:
        j = self._sent[client]
        self._sent[client] += 1
        lat, lon, t, acc = self._rides[(client + j * self._clients) % len(self._rides)]
        steps = j // self._rotation
        dlat, dlon = steps * self.STEP_DEG[0], steps * self.STEP_DEG[1]
        dt = j * self.SLOT_S
        points = [
            {"lat": la + dlat, "lon": lo + dlon, "t": tt - dt, "accuracy": a}
            for la, lo, tt, a in zip(lat, lon, t, acc, strict=True)
        ]
        return msgspec.json.encode({"points": points})


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    elapsed: float = 0.0
    in_flight: int = 0
    max_in_flight: int = 0


class Connections:
    """Plain HTTP/1.1 keep-alive connections to the service, one per upload in flight.

    The bench shares the machine's two cores with the service and PostgreSQL;
    httpx spent about 2-4 ms of CPU per upload, time the service did not get.
    Writing the request and reading a Content-Length answer by hand costs a
    fraction of that (the bench prints its own CPU per ride).
    """

    def __init__(self, base: str) -> None:
        url = httpx.URL(base)
        self._host, self._port = url.host, url.port or 80
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and read the whole answer; its status code.

        An idle connection the service closed meanwhile (its keep-alive timeout)
        is dropped and the request sent on the next one: the Idempotency-Key
        makes that safe even if the first attempt got through.
        """
        fields = {"Host": self._host, **headers, "Content-Length": str(len(body))}
        request = "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        message = f"POST {path} HTTP/1.1\r\n{request}\r\n".encode() + body
        while self._idle:
            reader, writer = self._idle.pop()
            try:
                return await self._exchange(reader, writer, message)
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
        return await self._exchange(*await asyncio.open_connection(self._host, self._port), message)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, message: bytes
    ) -> int:
        writer.write(message)
        status_line, *answer = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        length = next(int(f.split(":", 1)[1]) for f in answer if f.lower().startswith("content-length:"))
        await reader.readexactly(length)
        self._idle.append((reader, writer))
        return int(status_line.split(" ", 2)[1])

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()


async def uploads(
    base: str,
    users: list[dict[str, str]],
    seconds: float,
    trips: Trips,
    *,
    rate: float | None = None,
    rejected: list[bytes] | None = None,
) -> Run:
    """Closed loop (each client uploads again as soon as it is answered) or, with `rate`,
    open loop: uploads arrive at `rate` per second (Poisson), each from a random client.
    With `rejected` (a body per client), every upload goes without an Idempotency-Key and
    counts when it gets the 422 that turns it away."""
    run = Run()
    clients = len(users)
    connections = Connections(base)
    stop = time.perf_counter() + seconds
    expected = 201 if rejected is None else 422

    async def upload(n: int) -> None:
        headers = {**users[n], "Content-Type": "application/json"}
        if rejected is None:
            body = trips.next_body(n)
            headers["Idempotency-Key"] = uuid.uuid4().hex
        else:
            body = rejected[n]
        run.in_flight += 1
        run.max_in_flight = max(run.max_in_flight, run.in_flight)
        start = time.perf_counter()
        status = await connections.post("/rides", body, headers)
        run.in_flight -= 1
        if status == expected:
            run.latencies.append(time.perf_counter() - start)
        else:
            run.failures += 1

    async def closed(n: int) -> None:
        while time.perf_counter() < stop:
            await upload(n)

    async def arrivals(per_second: float) -> None:
        rng = random.Random(11)
        pending: list[asyncio.Task[None]] = []
        while time.perf_counter() < stop:
            pending.append(asyncio.create_task(upload(rng.randrange(clients))))
            await asyncio.sleep(rng.expovariate(per_second))
        await asyncio.gather(*pending)

    began = time.perf_counter()
    if rate is None:
        await asyncio.gather(*(closed(n) for n in range(clients)))
    else:
        await arrivals(rate)
    run.elapsed = time.perf_counter() - began
    await connections.close()
    return run


async def register(base: str, clients: int) -> list[dict[str, str]]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        return [await new_user(client) for _ in range(clients)]


async def wal_position(url: str) -> int:
    """Bytes of WAL the server has written so far (what a replica streams, what a disk must absorb)."""
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    finally:
        await conn.close()


async def service_backends(url: str) -> list[int]:
    """The PostgreSQL backends serving the service's pools (``application_name`` saferoutes): their
    CPU is the database's share of an upload, whatever else the same server runs."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = 'saferoutes'")
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


def pids_cpu_seconds(pids: list[int]) -> float:
    procs = _processes()
    return sum(procs[pid][2] for pid in pids if pid in procs)


FOOTPRINT_TABLES = (
    "ride",
    "ride_cell",
    "cell_exposure",
    "cell_transition",
    "points_entry",
    "idempotency_record",
    "rate_limit_bucket",
)


async def footprint(url: str) -> tuple[int, list[tuple[str, int, int]]]:
    """Rides stored, and per table its rows and bytes (heap, indexes and TOAST), after a VACUUM."""
    conn = await asyncpg.connect(url)
    try:
        rides = int(await conn.fetchval("SELECT count(*) FROM ride"))
        out = []
        for table in FOOTPRINT_TABLES:
            await conn.execute(f"VACUUM {table}")
            rows = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
            size = int(await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table))
            out.append((table, rows, size))
    finally:
        await conn.close()
    return rides, out


async def analyze(url: str) -> None:
    """Give the planner the statistics autovacuum keeps in a running service.

    A fresh bench database has none for the tables the warm-up filled (and
    autovacuum may be off, or not due within a run): the planner then guesses,
    and some per-user reads picked plans that scan every stored ride.
    """
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far, from /proc/stat (Linux)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


async def copy_rate(url: str, rows: int) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TEMP TABLE bench_points"
            " (ride_id uuid, seq int, lat float8, lon float8, t float8, accuracy real)"
        )
        ride = uuid.uuid4()
        records = [(ride, i, 51.0 + i * 1e-6, 4.48 + i * 1e-6, 1.7e9 + i, 5.0) for i in range(rows)]
        start = time.perf_counter()
        for k in range(0, rows, POINTS_PER_RIDE):
            await conn.copy_records_to_table("bench_points", records=records[k : k + POINTS_PER_RIDE])
        return rows / (time.perf_counter() - start)
    finally:
        await conn.close()


def percentiles_ms(latencies: list[float]) -> tuple[float, float]:
    """p50 and p99 of latencies in seconds, in milliseconds (NaN when there are none)."""
    if not latencies:
        return float("nan"), float("nan")
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1e3, ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--rides", type=int, default=200, help="distinct simulated rides to cycle through")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="seconds of unmeasured uploads first, after which the tables are analyzed",
    )
    parser.add_argument(
        "--prebuild-rate",
        type=float,
        default=250.0,
        help="encode bodies for this many uploads/s of the measured run before it starts (0: encode live)",
    )
    parser.add_argument(
        "--rate", type=float, help="open loop: uploads per second (Poisson) instead of back-to-back clients"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="then measure the same load with every upload rejected at the door (no Idempotency-Key)",
    )
    args = parser.parse_args()

    grid = street_grid()
    rng = random.Random(7)
    start_t = time.time() - 6 * 3600
    rides = [
        simulate_ride(
            rng, mode="bike", duration_s=POINTS_PER_RIDE, start_t=start_t - 60 * i, streets=grid
        ).points
        for i in range(args.rides)
    ]
    trips = Trips(rides, args.clients)

    sample = rides[:20]
    pipeline(sample[:2])
    bare, full = best_of(5, lambda: bare_loop(sample), lambda: pipeline(sample))

    with database() as url, service(url, free_port(), args.workers) as (base, pid):
        plain_url = url.replace("postgresql+asyncpg", "postgresql")
        users = asyncio.run(register(base, args.clients))
        if args.warmup > 0:
            asyncio.run(uploads(base, users, args.warmup, trips))
        asyncio.run(analyze(plain_url))
        expected = (args.rate or args.prebuild_rate) * args.seconds
        held = trips.prebuild(math.ceil(expected / args.clients))
        backends = asyncio.run(service_backends(plain_url))
        cpu_before, pg_before, machine_before = cpu_seconds(pid), postgres_cpu_seconds(), machine_busy()
        backends_before = pids_cpu_seconds(backends)
        wal_before = asyncio.run(wal_position(plain_url))
        bench_cpu = time.process_time()
        run = asyncio.run(uploads(base, users, args.seconds, trips, rate=args.rate))
        bench_cpu = time.process_time() - bench_cpu
        machine = [after - before for after, before in zip(machine_busy(), machine_before, strict=True)]
        latencies, failures, elapsed = run.latencies, run.failures, run.elapsed
        server_cpu = cpu_seconds(pid) - cpu_before
        pg_cpu = postgres_cpu_seconds() - pg_before
        backends = sorted(set(backends) | set(asyncio.run(service_backends(plain_url))))
        backends_cpu = pids_cpu_seconds(backends) - backends_before
        wal = asyncio.run(wal_position(plain_url)) - wal_before
        stored, tables = asyncio.run(footprint(plain_url))
        floor = None
        if args.floor:
            bodies = [trips.next_body(n) for n in range(args.clients)]
            floor_cpu = cpu_seconds(pid)
            floor = asyncio.run(uploads(base, users, args.seconds, trips, rate=args.rate, rejected=bodies))
            floor_cpu = cpu_seconds(pid) - floor_cpu
        done = len(latencies)
        e2e_points = done * POINTS_PER_RIDE / elapsed
        copies = [asyncio.run(copy_rate(plain_url, max(done, 1) * POINTS_PER_RIDE)) for _ in range(3)]
        copy = statistics.median(copies)

    p50, p99 = percentiles_ms(latencies)
    load = f"open loop at {args.rate:g} uploads/s" if args.rate else "closed loop"
    print(
        f"clients {args.clients} ({load}, at most {run.max_in_flight} in flight), workers {args.workers},"
        f" {elapsed:.1f} s after {args.warmup:g} s of warm-up, {done} rides x {POINTS_PER_RIDE} points"
    )
    print(f"failed uploads:        {failures}")
    print(f"service CPU per ride:  {server_cpu / max(done, 1) * 1e3:10.1f} ms (user + system, all workers)")
    print(f"PostgreSQL CPU/ride:   {pg_cpu / max(done, 1) * 1e3:10.1f} ms (processes named postgres)")
    print(f"PostgreSQL backends:   {backends_cpu / max(done, 1) * 1e3:10.1f} ms per ride (the service's own)")
    print(f"WAL per ride:          {wal / max(done, 1):10,.0f} B (streamed to every replica)")
    print(f"bench client CPU/ride: {bench_cpu / max(done, 1) * 1e3:10.1f} ms (sending, reading answers)")
    print(
        f"bodies prebuilt:       {held / 1e6:10,.0f} MB before the run;"
        f" {trips.encoded_live} encoded during it (~1 ms of client CPU each)"
    )
    busy = machine[0] / max(machine[1], 1) * 100
    print(f"machine CPU busy:      {busy:10.0f} % (all cores, anything running)")
    print(f"rides/s:               {done / elapsed:10.1f}")
    print(f"points/s (end to end): {e2e_points:10,.0f}")
    print(f"latency p50 / p99:     {p50:7.1f} / {p99:.1f} ms   (target p99 < 250 ms)")
    if not args.rate:
        # Little's law: n uploads always in flight at X rides/s wait n / X on average
        print(f"queueing floor n / X:  {args.clients / max(done / elapsed, 1e-9) * 1e3:10.1f} ms")
    print(f"stored per ride ({stored} rides, warm-up included; rows and bytes with indexes):")
    for table, rows, size in tables:
        print(f"  {table:20s} {rows / max(stored, 1):8.1f} rows {size / max(stored, 1):10,.0f} B")
    print(f"bare h3 loop:          {len(sample) * POINTS_PER_RIDE / bare:10,.0f} points/s")
    print(f"process_trace:         {len(sample) * POINTS_PER_RIDE / full:10,.0f} points/s")
    print(f"ratio pipeline / h3:   {bare / full:10.2f}   (target >= 0.5)")
    print(f"asyncpg COPY:          {copy:10,.0f} rows/s (median of {', '.join(f'{c:,.0f}' for c in copies)})")
    print(f"ratio e2e / COPY:      {e2e_points / copy:10.2f}   (target >= 0.3)")
    if floor is not None:
        rejected = len(floor.latencies)
        f50, f99 = percentiles_ms(floor.latencies)
        print("floor (the same load, every upload rejected with a 422 before its body is parsed):")
        print(f"  failed:              {floor.failures:10d} (answered other than 422)")
        print(f"  service CPU/upload:  {floor_cpu / max(rejected, 1) * 1e3:10.1f} ms")
        print(f"  uploads/s:           {rejected / floor.elapsed:10.1f}")
        print(f"  latency p50 / p99:   {f50:7.1f} / {f99:.1f} ms")
        print(f"ratio rides/s / floor: {done / elapsed / max(rejected / floor.elapsed, 1e-9):10.2f}")


if __name__ == "__main__":
    main()
