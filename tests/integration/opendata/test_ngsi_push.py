"""Hazard changes are pushed to an NGSI-LD context broker: a small fake broker on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import pytest
import uvicorn
from litestar import Litestar, Request, post
from litestar.params import PathParameter
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.database import make_sessionmaker
from domain.opendata.broker import BrokerPusher, full_sync
from privacy.retention import service as retention
from tests.clock import session_clock
from tests.integration.conftest import Register, free_port
from tests.integration.hazard_helpers import REPORTING, body, filed, staff


@dataclass
class FakeBroker:
    url: str
    calls: list[tuple[str, Any]] = field(default_factory=list)
    failures_left: int = 0


@pytest.fixture
async def broker() -> AsyncIterator[FakeBroker]:
    port = free_port()
    fake = FakeBroker(f"http://127.0.0.1:{port}")

    @post("/ngsi-ld/v1/entityOperations/{operation:str}", status_code=204)
    async def operation(request: Request[Any, Any, Any], operation: Annotated[str, PathParameter()]) -> None:
        if fake.failures_left > 0:
            fake.failures_left -= 1
            raise RuntimeError("broker hiccup")
        assert request.headers["content-type"] == "application/ld+json"
        fake.calls.append((operation, await request.json()))

    server = uvicorn.Server(
        uvicorn.Config(Litestar([operation]), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    yield fake
    server.should_exit = True
    await task


@pytest.fixture
async def pushing_client(
    clean_db: object, make_app: Callable[..., Litestar], broker: FakeBroker
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=make_app(ngsi_broker_url=broker.url)) as test_client:
        yield test_client


async def _settled(client: AsyncTestClient[Litestar]) -> None:
    pusher: BrokerPusher = client.app.state.ngsi_pusher
    await pusher.settled()


async def test_a_new_hazard_is_upserted_as_an_alert(
    pushing_client: AsyncTestClient[Litestar], register: Register, broker: FakeBroker
) -> None:
    citizen = await register(consents=REPORTING)
    receipt = await filed(pushing_client, citizen, body(description="plate 1-ABC-123"))
    await _settled(pushing_client)

    [(operation, entities)] = broker.calls
    assert operation == "upsert"
    [alert] = entities
    assert alert["id"] == f"urn:ngsi-ld:Alert:{receipt['hazardId']}"
    assert alert["type"] == "Alert" and alert["category"] == "traffic"
    assert alert["@context"] == "https://smartdatamodels.org/context.jsonld"
    assert "ABC" not in str(entities)


async def test_triage_pushes_the_new_status_and_rejection_deletes(
    pushing_client: AsyncTestClient[Litestar], register: Register, broker: FakeBroker
) -> None:
    citizen = await register(consents=REPORTING)
    receipt = await filed(pushing_client, citizen)
    planner = await staff(pushing_client)
    path = f"/hazards/{receipt['hazardId']}"
    await pushing_client.patch(path, json={"status": "acknowledged"}, headers=planner.auth)
    await _settled(pushing_client)
    await pushing_client.patch(path, json={"status": "rejected"}, headers=planner.auth)
    await _settled(pushing_client)

    assert [op for op, _ in broker.calls] == ["upsert", "upsert", "delete"]
    assert broker.calls[1][1][0]["data"]["status"] == "acknowledged"
    assert broker.calls[2][1] == [f"urn:ngsi-ld:Alert:{receipt['hazardId']}"]


async def test_reads_and_refused_writes_push_nothing(
    pushing_client: AsyncTestClient[Litestar], register: Register, broker: FakeBroker
) -> None:
    citizen = await register()  # no hazard_reporting consent: 403
    refused = await pushing_client.post(
        "/hazards", json=body(), headers={**citizen.auth, "Idempotency-Key": "k-00000001"}
    )
    await pushing_client.get("/hazards")
    await _settled(pushing_client)

    assert refused.status_code == 403
    assert broker.calls == []


async def test_a_failing_broker_is_retried_once_then_logged_never_raised(
    pushing_client: AsyncTestClient[Litestar],
    register: Register,
    broker: FakeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    citizen = await register(consents=REPORTING)
    broker.failures_left = 1
    created = await pushing_client.post(
        "/hazards", json=body(), headers={**citizen.auth, "Idempotency-Key": "k-00000002"}
    )
    await _settled(pushing_client)
    assert created.status_code == 201
    assert [op for op, _ in broker.calls] == ["upsert"]

    broker.failures_left = 2
    with caplog.at_level(logging.WARNING, logger="saferoutes.ngsi"):
        await filed(pushing_client, citizen, body(category="speeding"))
        await _settled(pushing_client)
    assert [op for op, _ in broker.calls] == ["upsert"]
    assert any(r.message == "ngsi push failed" for r in caplog.records)


async def test_a_hazard_gone_with_its_only_reporters_account_is_deleted_at_the_broker(
    pushing_client: AsyncTestClient[Litestar], register: Register, broker: FakeBroker
) -> None:
    leaver, stayer = await register(consents=REPORTING), await register(consents=REPORTING)
    alone = await filed(pushing_client, leaver, body(category="speeding"))
    shared = await filed(pushing_client, leaver)
    await filed(pushing_client, stayer)  # the same spot and category: the same hazard
    await _settled(pushing_client)
    broker.calls.clear()

    erased = await pushing_client.delete("/me", headers=leaver.auth)
    assert erased.status_code == 204
    await _settled(pushing_client)

    deleted = [entity for op, body_ in broker.calls if op == "delete" for entity in body_]
    upserted = [entity["id"] for op, body_ in broker.calls if op == "upsert" for entity in body_]
    assert deleted == [f"urn:ngsi-ld:Alert:{alone['hazardId']}"]
    assert upserted == [f"urn:ngsi-ld:Alert:{shared['hazardId']}"]  # one report fewer, still published


async def test_a_resync_repeats_the_deletions_and_retention_forgets_them_after_30_days(
    pushing_client: AsyncTestClient[Litestar], register: Register, broker: FakeBroker, clean_db: AsyncEngine
) -> None:
    leaver = await register(consents=REPORTING)
    gone = await filed(pushing_client, leaver)
    assert (await pushing_client.delete("/me", headers=leaver.auth)).status_code == 204
    await _settled(pushing_client)
    broker.calls.clear()

    sessionmaker = make_sessionmaker(clean_db)
    pusher = BrokerPusher(broker.url, sessionmaker, source="test")  # as `saferoutes ngsi-push` makes it
    try:
        assert await full_sync(pusher, sessionmaker)
    finally:
        await pusher.aclose()
    assert broker.calls == [("delete", [f"urn:ngsi-ld:Alert:{gone['hazardId']}"])]

    soon = await retention.apply(clean_db, now=session_clock() + timedelta(days=29), retention_days=365)
    assert soon.removed["hazard_tombstone"] == 0
    later = await retention.apply(clean_db, now=session_clock() + timedelta(days=31), retention_days=365)
    assert later.removed["hazard_tombstone"] == 1
