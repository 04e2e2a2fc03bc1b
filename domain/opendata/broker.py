"""Push hazard changes to the city's NGSI-LD context broker (``SAFEROUTES_NGSI_BROKER_URL``).

When a use case changes hazards (a report, a ride with incidents, a
confirmation, a triage, an erasure) it publishes `HazardsChanged`; the
bootstrap (`domain.bootstrap`) then schedules, once that transaction has
committed, a read of the hazards updated since and sends them to
``{broker}/ngsi-ld/v1/entityOperations/upsert`` (rejected ones to
``.../delete``): outside the transaction, after the commit, best effort, one
retry, one log line. Upserts are idempotent, so a hazard that two
workers both push is harmless; nothing is kept in one worker's memory.

A published hazard deleted with its last report (its reporter erased their
account, or deleted the ride it came with) leaves a tombstone (its id), so it
is deleted at the broker too. ``saferoutes ngsi-push`` re-sends every
published hazard and the deletions of the last 30 days (after a broker
outage): docs/open-data.md.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.opendata import rules as ngsi
from domain.opendata import store as open_data

log = logging.getLogger("saferoutes.ngsi")

BATCH: Final = 100
RETRY_DELAY_S: Final = 1.0
_SLACK: Final = timedelta(seconds=1)


class BrokerPusher:
    """Sends Alert entities to one broker; every failure is logged, none is raised to a caller."""

    def __init__(
        self,
        broker_url: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        source: str,
        timeout_s: float = 5.0,
        retry_delay_s: float = RETRY_DELAY_S,
    ) -> None:
        self._url = broker_url.rstrip("/") + "/ngsi-ld/v1/entityOperations/"
        self._sessionmaker = sessionmaker
        self._source = source
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._retry_delay_s = retry_delay_s
        self._tasks: set[asyncio.Task[bool]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _post(self, operation: str, body: Sequence[Any]) -> bool:
        headers = {"Content-Type": "application/ld+json"}
        for attempt in (1, 2):
            try:
                response = await self._client.post(self._url + operation, json=list(body), headers=headers)
                if response.status_code < 300:
                    return True
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            if attempt == 1:
                await asyncio.sleep(self._retry_delay_s)
        log.warning(
            "ngsi push failed", extra={"operation": operation, "entities": len(body), "reason": reason}
        )
        return False

    async def send(self, hazards: Sequence[ngsi.PublicHazard], gone: Sequence[uuid.UUID]) -> bool:
        """Upsert ``hazards`` and delete ``gone`` in batches; True when the broker took everything."""
        ok = True
        for start in range(0, len(hazards), BATCH):
            chunk = hazards[start : start + BATCH]
            entities = [ngsi.alert(h, source=self._source) | {"@context": ngsi.SDM_CONTEXT} for h in chunk]
            ok = await self._post("upsert", entities) and ok
        for start in range(0, len(gone), BATCH):
            ok = await self._post("delete", [ngsi.alert_id(i) for i in gone[start : start + BATCH]]) and ok
        if hazards or gone:
            log.info("ngsi push", extra={"upserted": len(hazards), "deleted": len(gone), "ok": ok})
        return ok

    async def push_changed_since(self, since: datetime) -> bool:
        async with self._sessionmaker() as session:
            hazards, rejected = await open_data.hazards_changed_since(session, since - _SLACK)
        return await self.send(hazards, rejected)

    def schedule(self, since: datetime) -> None:
        self._loop = asyncio.get_running_loop()
        task = self._loop.create_task(self.push_changed_since(since))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settled(self) -> None:
        """Wait for the pushes in flight (shutdown; tests, whose client may run the app on another loop)."""
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            await self._settle()
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._settle(), loop))

    async def aclose(self) -> None:
        await self.settled()
        await self._client.aclose()


async def full_sync(pusher: BrokerPusher, sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """Upsert every published hazard and delete those deleted with their last report in the
    tombstones' 30 days (the CLI's resync after an outage)."""
    async with sessionmaker() as session:
        total = await open_data.count_hazards(session)
        hazards = await open_data.hazards_page(session, limit=max(total, 1))
        gone = await open_data.deleted_hazards(session)
    return await pusher.send(hazards, gone)


__all__ = ["BrokerPusher", "full_sync"]
