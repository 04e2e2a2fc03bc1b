"""Health, readiness, metrics, OpenAPI, and that the migrations and the models agree."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.database import head_revision
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
