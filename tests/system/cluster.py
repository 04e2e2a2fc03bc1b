"""A PostgreSQL of the test's own (pgserver's binaries) and the real service on it, as subprocesses.

The system tests need what the in-process client cannot give: several worker
processes, a server that can be killed with SIGKILL and restarted on the same
data directory, a server started with chosen settings (fsync=off).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from pgserver import _commands as pg  # type: ignore[attr-defined]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(pg.POSTGRES_BIN_PATH)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _system_user() -> str | None:
    """initdb and postgres refuse to run as root; pgserver runs them as its own user then."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists("pgserver")
    ensure_prefix_permissions(BIN)
    ensure_folder_permissions(BIN, 0o055)
    ensure_folder_permissions(BIN.parent / "lib", 0o044)
    return "pgserver"


@dataclass
class Cluster:
    """One PostgreSQL data directory, started on 127.0.0.1:port with extra `-c` settings."""

    root: Path
    port: int = field(default_factory=free_port)
    settings: dict[str, str] = field(default_factory=dict)
    user: str | None = field(default_factory=_system_user)
    bin: Path = BIN
    """pgserver's binaries by default; the replica test uses the machine's (`DEBIAN_PG_BIN`)."""

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, exe: str, *args: str) -> None:
        command = [str(self.bin / exe), *args]
        subprocess.run(command, check=True, capture_output=True, user=self.user, timeout=120)  # noqa: S603

    def _own_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            import pwd

            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.root)
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def init(self) -> Cluster:
        self._own_root()
        self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "-U", "postgres", "--encoding=utf8")
        return self

    def standby_of(self, primary: Cluster) -> Cluster:
        """Make this cluster a streaming replica of ``primary`` (running): ``pg_basebackup -R``."""
        self._own_root()
        self._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(self.pgdata), "-R", "-X", "stream", "--checkpoint=fast"),
        )
        return self

    def start(self) -> Cluster:
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.pgdata}"]
        options += [f"-c {k}={v}" for k, v in self.settings.items()]
        log = self.root / "postgres.log"
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            "60",
            "-l",
            str(log),
            "-o",
            " ".join(options),
            "start",
        )
        return self

    def postmaster(self) -> psutil.Process:
        pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        return psutil.Process(pid)

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as a crash of the machine would."""
        postmaster = self.postmaster()
        victims = [postmaster, *postmaster.children(recursive=True)]
        for process in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
        psutil.wait_procs(victims, timeout=10)

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [str(self.bin / "pg_ctl"), "-D", str(self.pgdata), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                user=self.user,
                timeout=60,
                check=False,
            )

    def create_database(self, name: str) -> str:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)


@dataclass
class Service:
    """`saferoutes serve --workers N` against `database_url`, on a free port."""

    database_url: str
    log_path: Path
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        serve = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        return [sys.executable, "-m", "api.cli", *serve]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEROUTES_")}
        env.update(
            DATABASE_URL=self.database_url,
            SAFEROUTES_SECRET_KEY="system-test-secret-key-0123456789-abcdef",
            SAFEROUTES_ARGON2_TIME_COST="1",
            SAFEROUTES_ARGON2_MEMORY_KIB="1024",
            SAFEROUTES_LOG_LEVEL="WARNING",
            # generous unless a test is about the limits; it sets its own
            SAFEROUTES_REGISTER_PER_HOUR="100000",
            SAFEROUTES_LOGIN_ATTEMPTS_PER_MINUTE="100000",
            SAFEROUTES_RATE_LIMIT_PER_MINUTE="100000",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        return env

    def start(self, timeout: float = 90) -> Service:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                self.command(), cwd=ROOT, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(self.base_url + "/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the service did not get ready: {self.log()}")

    def processes(self) -> list[psutil.Process]:
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        return [parent, *parent.children(recursive=True)]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for process in self.processes()[::-1]:
                process.kill()
            self.process.wait(timeout=10)


@dataclass
class EmbeddedService(Service):
    """`saferoutes serve` without DATABASE_URL: its own embedded PostgreSQL in `data_dir`."""

    data_dir: Path = field(default_factory=Path)

    def environment(self) -> dict[str, str]:
        env = super().environment()
        del env["DATABASE_URL"]
        env["SAFEROUTES_DATA_DIR"] = str(self.data_dir)
        return env

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def postmaster(self) -> psutil.Process:
        return psutil.Process(int((self.pgdata / "postmaster.pid").read_text().splitlines()[0]))

    def postgres_processes(self) -> list[psutil.Process]:
        """Every process of this data directory's PostgreSQL (they all work in pgdata)."""
        found = []
        for process in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error, OSError):
                if process.info["name"] == "postgres" and Path(process.cwd()) == self.pgdata:
                    found.append(process)
        return found


HAPROXY_CONFIG = """\
global
    maxconn 512
    # whole ride bodies fit in a buffer, so that HAProxy can resend one (retry-on)
    tune.bufsize 131072

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # a request that found a stopping instance goes to the other: connection refused or a
    # connection closed without an answer; uploads are safe to resend (Idempotency-Key)
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503

frontend saferoutes
    bind 127.0.0.1:{port}
    default_backend instances

backend instances
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server check inter 300ms fall 1 rise 2
{servers}
"""


@dataclass
class HAProxy:
    """Debian's HAProxy in the foreground (``-db``) on a free port, balancing over ``backends``."""

    root: Path
    backends: list[str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        servers = "\n".join(f"    server i{n} {b}" for n, b in enumerate(self.backends))
        return HAPROXY_CONFIG.format(port=self.port, servers=servers)

    def start(self, timeout: float = 30) -> HAProxy:
        self.root.mkdir(parents=True, exist_ok=True)
        cfg = self.root / "haproxy.cfg"
        cfg.write_text(self.config())
        with (self.root / "haproxy.log").open("ab") as log:
            command = [shutil.which("haproxy") or "haproxy", "-f", str(cfg), "-db"]
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {(self.root / 'haproxy.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/ready", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise RuntimeError("haproxy did not answer")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
