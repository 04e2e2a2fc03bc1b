"""The hostile-input corpus (tests/hostile/corpus.py) against every write endpoint of the app.

Every case must be answered with a 4xx RFC 9457 problem document, and the
database must be exactly as before (row counts and a checksum of every table;
only the rate limiter's counters may move, counting requests is their job).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from api.problems import PROBLEM_MEDIA_TYPE
from domain.core.enums import Role
from tests.hostile.corpus import Case, generic, targeted
from tests.integration.authz_helpers import handlers_by_operation, offline_operations, token_for
from tests.integration.conftest import Register
from tests.integration.hazard_helpers import staff

WRITES = [op for op in offline_operations() if op[0] in ("POST", "PUT", "PATCH")]
# Routes that read a body Litestar does not declare in the document (they parse it themselves)
READS_OWN_BODY = {("POST", "/rides"), ("POST", "/open311/v2/requests.json")}
NOT_SNAPSHOTTED = {"rate_limit_bucket", "alembic_version"}
CONSENTS = ("ride_tracking", "hazard_reporting", "leaderboard", "research_sharing")


async def snapshot(engine: AsyncEngine) -> dict[str, tuple[int, str | None]]:
    async with engine.connect() as conn:
        tables = (
            await conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        state: dict[str, tuple[int, str | None]] = {}
        for table in sorted(set(tables) - NOT_SNAPSHOTTED):
            row = (
                await conn.execute(
                    sa.text(
                        f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"{table}\" t"
                    )
                )
            ).one()
            state[table] = (int(row[0]), row[1])
        return state


def _path(template: str) -> str:
    def fill(match: re.Match[str]) -> str:
        return "ride_tracking" if match.group(1) == "purpose" else str(uuid.uuid4())

    return re.sub(r"\{(\w+)\}", fill, template)


def _takes_body(app: Litestar, method: str, path: str) -> bool:
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return "requestBody" in document["paths"][path][method.lower()] or (method, path) in READS_OWN_BODY


def _problems(answer: Any, case: Case) -> list[str]:
    wrong: list[str] = []
    if not 400 <= answer.status_code < 500:
        wrong.append(f"{case.name}: {answer.status_code} {answer.text[:200]}")
    elif not answer.headers.get("content-type", "").startswith(PROBLEM_MEDIA_TYPE):
        wrong.append(f"{case.name}: not a problem document ({answer.headers.get('content-type')})")
    else:
        body = answer.json()
        if body.get("status") != answer.status_code or not str(body.get("type", "")).startswith("urn:"):
            wrong.append(f"{case.name}: malformed problem {body}")
    return wrong


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_every_hostile_input_is_a_4xx_problem_and_changes_nothing(
    method: str, path: str, client: AsyncTestClient[Litestar], register: Register, db_engine: AsyncEngine
) -> None:
    app: Litestar = client.app
    if not _takes_body(app, method, path):
        pytest.skip("takes no request body")
    citizen = await register(consents=CONSENTS, birthYear=1990)
    staff_tokens = {role: (await staff(client, role)).access_token for role in (Role.PLANNER, Role.ADMIN)}
    staff_tokens[Role.TEACHER] = staff_tokens[Role.ADMIN]  # a teacher of no school: refused like a stranger
    token = token_for(handlers_by_operation(app)[(method, path)], citizen.access_token, staff_tokens)
    cases = generic(app.state.settings.max_body_bytes) + targeted().get((method, path), [])

    before = await snapshot(db_engine)
    failures: list[str] = []
    for n, case in enumerate(cases):
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": case.content_type,
            "Idempotency-Key": f"hostile-{n:04d}-{uuid.uuid4().hex[:8]}",
            **dict(case.headers),
        }
        answer = await client.request(method, _path(path), content=case.body, headers=headers)
        failures += _problems(answer, case)
    after = await snapshot(db_engine)

    assert not failures, "\n".join(failures)
    changed = {
        t: (before.get(t), after.get(t)) for t in set(before) | set(after) if before.get(t) != after.get(t)
    }
    assert not changed, f"the database changed: {changed}"
