"""Health, readiness, metrics, OpenAPI, and that the migrations and the models agree."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.database import head_revision
from api.hazards import http as hazard_http
from domain.core.partitions import is_partition
from domain.schema import metadata

Client = AsyncTestClient[Litestar]


async def test_health_answers(client: Client) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_the_migrated_database(client: Client) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["schemaRevision"] == head_revision()


async def test_ready_is_503_when_the_database_is_unreachable(make_app: Any, clean_db: AsyncEngine) -> None:
    app = make_app(database_url="postgresql://nobody@127.0.0.1:1/none")
    async with AsyncTestClient(app=app) as offline:
        response = await offline.get("/ready")
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"
        assert response.headers["retry-after"] == "5"
        login = await offline.post("/auth/login", json={"handle": "someone", "password": "whatever1"})
        assert login.status_code == 503
        assert login.headers["retry-after"].isdigit()
        assert login.json()["type"].endswith("service-unavailable")


async def test_metrics_are_prometheus_text(client: Client) -> None:
    await client.get("/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "saferoutes_requests_total" in response.text


async def test_openapi_document_is_served(client: Client) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    for path in ("/auth/register", "/auth/login", "/auth/refresh", "/auth/logout", "/me", "/me/consents"):
        assert path in spec["paths"], path


def _diff(connection: Any) -> list[Any]:
    # the history tables' monthly partitions are made by the service, not described by the models
    opts = {
        "compare_type": True,
        "include_name": lambda name, type_, _: not (type_ == "table" and is_partition(name)),
    }
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, metadata))


async def test_migrations_and_models_agree(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def _server_cancels(session: Any, sqlstate: str) -> None:
    """What the server answers when it gives up on a statement: the real error, through the real
    driver and SQLAlchemy, raised by PostgreSQL itself."""
    await session.execute(
        sa.text(
            "DO $$ BEGIN RAISE EXCEPTION 'canceling statement due to conflict with recovery' "
            f"USING ERRCODE = '{sqlstate}'; END $$"
        )
    )


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
async def test_a_read_the_server_cancels_is_a_503_to_retry_not_a_500(
    client: Client, monkeypatch: pytest.MonkeyPatch, sqlstate: str
) -> None:
    """A streaming replica cancels a read that conflicts with the WAL it replays (40001); a deadlock
    (40P01) is a retry too. Both used to end as 500 internal-error."""

    async def cancelled(session: Any, *args: Any, **kwargs: Any) -> Any:
        await _server_cancels(session, sqlstate)

    monkeypatch.setattr(hazard_http, "list_hazards", cancelled)
    response = await client.get("/hazards", params={"bbox": "24.93,60.16,24.96,60.18"})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "urn:saferoutes:problem:service-unavailable"
    assert "canceling" not in response.text  # the server's message stays in the server


async def test_an_error_that_a_retry_would_not_cure_stays_a_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(session: Any, *args: Any, **kwargs: Any) -> Any:
        await _server_cancels(session, "22012")  # division_by_zero: a bug, not a conflict

    monkeypatch.setattr(hazard_http, "list_hazards", broken)
    response = await client.get("/hazards", params={"bbox": "24.93,60.16,24.96,60.18"})
    assert response.status_code == 500
    assert "retry-after" not in response.headers
