"""Liveness, readiness and the operator's view (GET /health, /ready; /metrics is the Prometheus plugin)."""

from __future__ import annotations

import sqlalchemy as sa
from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from api.database import current_revision
from api.wire import Out

RETRY_AFTER = {"Retry-After": "5"}
"""A database that is restarting (the embedded one is brought back by `saferoutes serve`) needs seconds."""


class Health(Out):
    status: str


class Readiness(Out):
    status: str
    database: str
    schema_revision: str | None
    expected_revision: str | None


class OpsController(Controller):
    tags = ["service"]

    @get("/health", summary="Liveness: the process answers")
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", summary="Readiness: the database is reachable and at the latest migration")
    async def ready(self, state: State) -> Response[Readiness]:
        expected = state.head_revision
        try:
            async with state.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            revision = await current_revision(state.engine)
        except Exception:  # any failure to reach the database means "not ready"
            body = Readiness(
                status="unavailable", database="unreachable", schema_revision=None, expected_revision=expected
            )
            return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE, headers=RETRY_AFTER)
        if revision != expected:
            body = Readiness(
                status="migrating", database="ok", schema_revision=revision, expected_revision=expected
            )
            return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE, headers=RETRY_AFTER)
        return Response(
            Readiness(status="ready", database="ok", schema_revision=revision, expected_revision=expected),
            status_code=HTTP_200_OK,
        )
