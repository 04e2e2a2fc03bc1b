"""Where reads that tolerate lag go: a streaming replica while it keeps up, the primary otherwise.

The one place that chooses between the two databases. With
``SAFEROUTES_DATABASE_READ_URL`` set, the reads listed in docs/scaling.md
(planner exports, anonymous public reads, NGSI-LD entities) ask
:meth:`ReadRouter.sessionmaker` for their sessions; every write, and every
read that must see its own writes (anything a signed-in user does about their
own data, logins, the audit and the ledger), stays on the primary
(``state.sessionmaker``).

The replica is used while its replay lag is at most
``SAFEROUTES_DATABASE_READ_MAX_LAG_S``. A worker measures the lag at most
every ``check_interval`` (a quarter of the bound, at most 5 s) on the replica
itself (:data:`LAG_SQL`); above the bound, or when the replica does not
answer within 2 s, reads go to the primary (the primary served them before
there was a replica, so this costs capacity, never an answer), the change is
logged once and ``saferoutes_replica_reads_total{database="primary"}``
counts them. A replica that dies between two checks fails the reads that
were on it with the usual 503 (clients retry) and is measured again on the
next read (an engine event notices the lost connection).

A release that a read needs and that does not exist yet is made on the
primary (`domain.core.replica`, `privacy.release.service.obtain`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, Final

import sqlalchemy as sa
from litestar import Request
from litestar.datastructures import State
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.database import make_engine, make_sessionmaker, to_async_url
from api.settings import Settings
from domain.core.bus import Bus

log = logging.getLogger("saferoutes.replica")

READ_APPLICATION_NAME: Final = "saferoutes-read"
CHECK_TIMEOUT_S: Final = 2.0

LAG_SQL: Final = sa.text(
    """
    SELECT CASE
      WHEN NOT pg_is_in_recovery() THEN 0.0
      WHEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver)
           AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
      ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 'Infinity')
    END::float8
    """
)
"""Seconds the replica is behind: 0 while it streams and has replayed all it received (an idle
primary sends nothing, and the replica is then current however old its last commit); otherwise the
age of the last transaction it replayed (it has WAL still to replay, or it lost its primary and
cannot know what it misses); infinite when it never replayed one. Conservative: a replica caught
between receiving and replaying counts as behind by the time since the primary's previous commit."""

READS: Final = Counter(
    "saferoutes_replica_reads", "Reads that tolerate lag, by the database that served them", ["database"]
)
LAG: Final = Gauge("saferoutes_replica_lag_seconds", "The replica's replay lag at the last check (NaN: down)")


class ReadRouter:
    """One per worker: the replica's pool, its last measured lag, and the choice made from it."""

    def __init__(
        self,
        primary: async_sessionmaker[AsyncSession],
        replica: AsyncEngine | None,
        *,
        bus: Bus | None = None,
        max_lag_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._engine = replica
        self._replica = make_sessionmaker(replica, bus, primary=primary) if replica is not None else None
        self.max_lag_s = max_lag_s
        self.check_interval = min(5.0, max_lag_s / 4)
        self._monotonic = monotonic
        self._checked = -math.inf
        self._usable = False
        self._state = "unchecked"
        self._lock = asyncio.Lock()
        if replica is not None:
            sa.event.listen(replica.sync_engine, "handle_error", self._on_error)

    def _on_error(self, context: sa.engine.ExceptionContext) -> None:
        """A read on the replica lost its connection (or got none): measure again before the next."""
        if context.is_disconnect or isinstance(context.original_exception, OSError):
            self._checked = -math.inf

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        primary: async_sessionmaker[AsyncSession],
        bus: Bus | None = None,
        *,
        null_pool: bool = False,
    ) -> ReadRouter:
        """``null_pool``: for a command, which reads once (``saferoutes export``, ``open-data``)."""
        engine = None
        if settings.database_read_url:
            engine = make_engine(
                to_async_url(settings.database_read_url),
                null_pool=null_pool,
                pool_size=settings.db_pool_size,
                application_name=READ_APPLICATION_NAME,
            )
        return cls(primary, engine, bus=bus, max_lag_s=settings.database_read_max_lag_s)

    @property
    def configured(self) -> bool:
        return self._replica is not None

    async def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The sessions for a read that tolerates lag: the replica's while it keeps up."""
        if self._replica is None:
            return self._primary
        if self._monotonic() - self._checked >= self.check_interval and not self._lock.locked():
            # one request measures; the others keep the last choice meanwhile, never wait for it
            async with self._lock:
                await self._check()
        if self._usable:
            READS.labels("replica").inc()
            return self._replica
        READS.labels("primary").inc()
        return self._primary

    @property
    def state(self) -> str:
        """For people: where the reads went at the last check, and why."""
        return {
            "unchecked": "primary (no replica configured)" if self._replica is None else "not checked yet",
            "replica": "the replica",
            "lagging": f"the primary (the replica is more than {self.max_lag_s:g} s behind)",
            "down": "the primary (the replica does not answer)",
        }[self._state]

    async def lag_s(self) -> float | None:
        """The replica's lag now, or None when it does not answer."""
        assert self._engine is not None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S), self._engine.connect() as conn:
                return float((await conn.execute(LAG_SQL)).scalar_one())
        except Exception as exc:  # whatever the replica answers, a check never fails a read
            log.debug("replica check failed: %s", type(exc).__name__)
            return None

    async def _check(self) -> None:
        lag = await self.lag_s()
        LAG.set(math.nan if lag is None else lag)
        usable = lag is not None and lag <= self.max_lag_s
        state = "replica" if usable else ("down" if lag is None else "lagging")
        if state != self._state:
            if usable:
                log.info("reads that tolerate lag go to the replica", extra={"lag_s": lag})
            else:
                log.warning(
                    "replica %s: reads that tolerate lag go to the primary",
                    "unreachable" if lag is None else "behind",
                    extra={"lag_s": lag, "max_lag_s": self.max_lag_s},
                )
        self._usable, self._state, self._checked = usable, state, self._monotonic()

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()


async def provide_read_session(
    state: State, request: Request[Any, Any, Any]
) -> AsyncGenerator[AsyncSession, None]:
    """A session for a public read that tolerates lag: on the replica while it keeps up.

    A signed-in caller reads the primary: what they just wrote (a hazard they
    reported, a triage) must be in what they read next.
    """
    router: ReadRouter = state.reads
    anonymous = request.scope.get("user") is None
    sessions = await router.sessionmaker() if anonymous else state.sessionmaker
    async with sessions() as session:
        yield session


async def provide_export_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """A session for a planner's export or report: on the replica while it keeps up, whoever asks.

    Exports read released figures (never changed once made) and public
    hazards; their audit rows are written on the primary by the use case.
    """
    router: ReadRouter = state.reads
    async with (await router.sessionmaker())() as session:
        yield session
