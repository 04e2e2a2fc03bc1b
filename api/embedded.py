"""The embedded PostgreSQL (`pgserver`'s binaries) in the data directory: shared, supervised, stopped.

Without DATABASE_URL every ``saferoutes`` process of one data directory uses the
same PostgreSQL, in ``<data dir>/pgdata``. The first process that needs it starts
it; later ones join it. Each process using it is recorded in
``<data dir>/postgres.holders`` (pid and start time, so a reused pid is not
mistaken for it); the last one to leave stops it, and records of processes that
died without leaving (SIGKILL, power loss) are dropped at the next start. A
server left running by such a process is adopted, never started twice.

``pgserver``'s own handle is not used: it kept its holders in a list that a
killed process never left, so from then on no process stopped the server and
each one logged "exiting … remaining pids" on its way out; and nothing
restarted a server that died. `Supervisor` does that here, with backoff.
Starts, stops and the holders file are serialised by a lock file in the data
directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shlex
import signal
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

log = logging.getLogger("saferoutes.database")

HOLDERS_FILE = "postgres.holders"
LOCK_FILE = "postgres.lock"
PGSERVER_RECORD = ".handle_pids.json"
"""pgserver's own holders list in pgdata, left by earlier versions; a stale one is deleted."""
SYSTEM_USER = "pgserver"
"""initdb and postgres refuse to run as root; as root they run as this user (pgserver's choice)."""
START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
LEFTOVER_WAIT_S = 5.0


class EmbeddedError(RuntimeError):
    """The embedded PostgreSQL could not be started or reached."""


@dataclass(frozen=True)
class Holder:
    pid: int
    started: float

    @classmethod
    def me(cls) -> Holder:
        return cls(os.getpid(), psutil.Process().create_time())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
            same = abs(process.create_time() - self.started) < 1
            return bool(same and process.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False


def _pgserver_utils() -> Any:
    """pgserver's helpers; importing the package warns about a missing XDG_RUNTIME_DIR we never use."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import utils

    return utils


def _bin() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import _commands

    return Path(_commands.POSTGRES_BIN_PATH)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(unreadable)"


def _is_running(process: psutil.Process | None) -> bool:
    try:
        return process is not None and process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class EmbeddedPostgres:
    """One data directory's PostgreSQL, as this process sees it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.user: str | None = SYSTEM_USER if os.geteuid() == 0 else None
        self.postmaster: psutil.Process | None = None
        self.holding = False

    # -- what other processes may share ------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _holders(self) -> list[Holder]:
        path = self.data_dir / HOLDERS_FILE
        try:
            return [Holder(int(h["pid"]), float(h["started"])) for h in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError, KeyError):
            return []

    def _write_holders(self, holders: list[Holder]) -> None:
        path = self.data_dir / HOLDERS_FILE
        draft = path.with_name(path.name + ".part")
        draft.write_text(json.dumps([{"pid": h.pid, "started": h.started} for h in holders]))
        draft.replace(path)

    # -- the server ------------------------------------------------------------------------

    def _read_postmaster(self) -> psutil.Process | None:
        """The postmaster named in postmaster.pid, if that pid is a running postgres of this pgdata."""
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
            process = psutil.Process(pid)
            if process.name() == "postgres" and Path(process.cwd()).resolve() == self.pgdata.resolve():
                return process if _is_running(process) else None
        except (OSError, ValueError, IndexError, psutil.Error):
            return None
        return None

    def _leftovers(self) -> list[psutil.Process]:
        """Processes of this cluster still alive (a postgres process works in its pgdata)."""
        found = []
        for process in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error, OSError):
                if process.info["name"] == "postgres" and Path(process.cwd()) == self.pgdata:
                    found.append(process)
        return found

    def running(self) -> bool:
        return _is_running(self.postmaster)

    def _prepare_permissions(self) -> None:
        if self.user is None:
            return
        import pwd
        import stat

        utils = _pgserver_utils()
        utils.ensure_user_exists(self.user)
        bin_dir = _bin()
        utils.ensure_prefix_permissions(self.pgdata)
        utils.ensure_prefix_permissions(bin_dir)
        read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
        utils.ensure_folder_permissions(bin_dir, read | execute)
        utils.ensure_folder_permissions(bin_dir.parent / "lib", read)
        entry = pwd.getpwnam(self.user)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _run(self, exe: str, *args: str, timeout: float = START_TIMEOUT_S + 10) -> None:
        with tempfile.TemporaryFile("w+") as out:  # pg_ctl keeps a pipe open: capture into a file
            done = subprocess.run(  # noqa: S603 - our own binaries, argument lists
                [str(_bin() / exe), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                user=self.user,
                timeout=timeout,
            )
            if done.returncode != 0:
                out.seek(0)
                raise EmbeddedError(f"{exe} failed ({done.returncode}): {out.read().strip()[-600:]}")

    def _recorded_socket_dir(self) -> list[Path]:
        try:
            line = (self.pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
        except (OSError, IndexError):
            return []
        return [Path(line)] if line else []

    def _clear_stale(self) -> None:
        """With no postmaster running: wait for (then kill) its orphaned backends, drop its pid records."""
        deadline = time.monotonic() + LEFTOVER_WAIT_S
        while (leftovers := self._leftovers()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for process in leftovers:
            log.warning("killing a leftover postgres process of a dead server", extra={"pid": process.pid})
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(leftovers, timeout=5)
        records = [self.pgdata / "postmaster.pid", self.pgdata / PGSERVER_RECORD]
        for folder in {self.pgdata, *self._recorded_socket_dir()}:
            records += folder.glob(".s.PGSQL.*.lock")  # the socket's lock names the dead pid too
        for stale in records:
            if stale.exists():
                log.info("removing a stale pid record", extra={"path": str(stale)})
                stale.unlink(missing_ok=True)

    def _start(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("creating the embedded PostgreSQL cluster", extra={"pgdata": str(self.pgdata)})
            self._run("initdb", "-D", str(self.pgdata), "--auth=trust", "-U", "postgres", "--encoding=utf8")
        self._clear_stale()
        sockets = _pgserver_utils().find_suitable_socket_dir(
            self.pgdata, Path(tempfile.gettempdir()) / "saferoutes-pg"
        )
        if self.user is not None and sockets != self.pgdata:
            sockets.chmod(0o777)
        log_file = self.pgdata / "log"
        try:
            self._start_postmaster(sockets, log_file)
        except EmbeddedError as exc:
            raise EmbeddedError(f"{exc}; {log_file} ends: {_tail(log_file)}") from exc
        self.postmaster = self._read_postmaster()
        if self.postmaster is None:
            raise EmbeddedError(f"PostgreSQL did not stay up; {log_file} ends: {_tail(log_file)}")
        log.info(
            "embedded PostgreSQL started", extra={"pid": self.postmaster.pid, "pgdata": str(self.pgdata)}
        )

    def _start_postmaster(self, sockets: Path, log_file: Path) -> None:
        options = f'-h "" -k {shlex.quote(str(sockets))}'  # no TCP: a socket in (or for) pgdata
        self._run(
            "pg_ctl",
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-l",
            str(log_file),
            "-o",
            options,
            "start",
        )

    def _ensure_running(self) -> None:
        self.postmaster = self._read_postmaster()
        if self.postmaster is None:
            self._start()
        else:
            log.info("joining the running embedded PostgreSQL", extra={"pid": self.postmaster.pid})

    def url(self, database: str) -> str:
        info = _pgserver_utils().PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None:
            raise EmbeddedError(f"no PostgreSQL runs in {self.pgdata}")
        uri: str = info.get_uri(database=database)
        return uri

    def ensure_database(self, name: str) -> None:
        psql = [str(_bin() / "psql"), "-X", "-q", "-t", "-A", "-d", self.url("postgres")]
        found = subprocess.run(  # noqa: S603
            [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],  # noqa: S608 - a constant
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        if found.stdout.strip() != "1":
            create = [*psql, "-c", f'CREATE DATABASE "{name}"']
            subprocess.run(create, capture_output=True, timeout=60, check=True)  # noqa: S603

    # -- what a process does ------------------------------------------------------------------

    def acquire(self) -> None:
        """Join the running server or start it; this process is a holder until `release`."""
        me = Holder.me()
        with self._locked():
            holders = [h for h in self._holders() if h.alive() and h.pid != me.pid]
            self._write_holders([*holders, me])
            self.holding = True
            self._ensure_running()
            # pgserver's list (earlier versions) of holders that never left: this file now keeps them
            (self.pgdata / PGSERVER_RECORD).unlink(missing_ok=True)

    def restart(self) -> None:
        """Bring a server that died back (or adopt the one another process brought back first)."""
        with self._locked():
            self._ensure_running()

    def release(self) -> None:
        """Leave; the last live holder stops the server."""
        if not self.holding:
            return
        self.holding = False
        me = os.getpid()
        with self._locked():
            holders = [h for h in self._holders() if h.alive() and h.pid != me]
            self._write_holders(holders)
            if holders:
                log.info(
                    "embedded PostgreSQL left running for other processes", extra={"holders": len(holders)}
                )
                return
            self._stop()

    def _stop(self) -> None:
        postmaster = self._read_postmaster()
        if postmaster is not None:
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.pgdata),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(STOP_TIMEOUT_S),
                    "stop",
                    timeout=STOP_TIMEOUT_S + 5,
                )
            except (EmbeddedError, subprocess.TimeoutExpired) as exc:
                log.warning("pg_ctl stop failed; terminating PostgreSQL", extra={"reason": str(exc)})
                with contextlib.suppress(psutil.Error):
                    postmaster.send_signal(signal.SIGQUIT)
                    postmaster.wait(10)
            log.info("embedded PostgreSQL stopped", extra={"pgdata": str(self.pgdata)})
        self._clear_stale()
        self.postmaster = None


class Supervised(Protocol):
    """What `Supervisor` needs of a server (`EmbeddedPostgres`)."""

    postmaster: psutil.Process | None

    def running(self) -> bool: ...

    def restart(self) -> None: ...


class Supervisor:
    """Restarts the embedded PostgreSQL when it dies, waiting `first_delay_s`, then twice as long each
    time, up to `max_delay_s`; the wait starts again from the first once it stayed up `stable_s`.

    It runs in a thread of the process that serves (the server is shared, so a
    supervisor that finds it already brought back by another process adopts it).
    """

    def __init__(
        self,
        server: Supervised,
        *,
        poll_s: float = 1.0,
        first_delay_s: float = 1.0,
        max_delay_s: float = 30.0,
        stable_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.poll_s, self.first_delay_s, self.max_delay_s = poll_s, first_delay_s, max_delay_s
        self.stable_s, self.clock = stable_s, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.watch, name="postgres-supervisor", daemon=True)
        self.restarts = 0

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_TIMEOUT_S + START_TIMEOUT_S)

    def pause(self, seconds: float) -> bool:
        """Wait; True once the supervisor is asked to stop."""
        return self._stop.wait(seconds)

    def watch(self) -> None:
        delay = self.first_delay_s
        up_since = self.clock()
        while not self.pause(self.poll_s):
            if self.server.running():
                continue
            if self.clock() - up_since >= self.stable_s:
                delay = self.first_delay_s
            pid = self.server.postmaster.pid if self.server.postmaster is not None else None
            log.warning("embedded PostgreSQL is down; restarting it", extra={"pid": pid, "in_s": delay})
            while not self.pause(delay):
                delay = min(self.max_delay_s, delay * 2)
                try:
                    self.server.restart()
                except Exception as exc:  # any failure: log it and try again later
                    log.error(
                        "restarting the embedded PostgreSQL failed",
                        extra={"reason": str(exc), "retry_in_s": delay},
                    )
                    continue
                self.restarts += 1
                up_since = self.clock()
                back = self.server.postmaster.pid if self.server.postmaster is not None else None
                log.warning("embedded PostgreSQL is back", extra={"pid": back, "restarts": self.restarts})
                break
