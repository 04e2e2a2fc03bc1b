"""Every write endpoint judges its body strictly: types as declared, each key once, no NUL; nothing stored.

The operations and their bodies are read from the app's own OpenAPI document,
so a new endpoint is probed as soon as it exists: for every field of its JSON
body (nested ones too) the test sends the value with a near miss of its type
(``1`` or ``"true"`` for a boolean, ``"2"`` or ``2.5`` for an integer, ``12``
for a text, ...), the field twice, and a text with NUL in it. Each must be a
400 problem document naming the field, and no row may change anywhere. A write
endpoint that documents no JSON body must be one of the few that take none:
a handler that reads a body the document does not show fails here until its
body is declared (and so probed).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.core.enums import Role
from tests.integration.authz_helpers import handlers_by_operation, token_for
from tests.integration.conftest import Register
from tests.integration.school_helpers import staff

WRITES = ("POST", "PUT", "PATCH", "DELETE")
ALL_CONSENTS = ("ride_tracking", "hazard_reporting", "leaderboard", "research_sharing")
TAKE_NO_BODY = {
    ("DELETE", "/me"),
    ("DELETE", "/me/privacy-zones/{zone_id}"),
    ("DELETE", "/rides/{ride_id}"),
    ("POST", "/me/guardian-code"),
    ("POST", "/classes/{class_id}/join-code"),
    ("DELETE", "/classes/{class_id}/join-code"),
}
# rows that guards write before any body is read (attempt counters), not data
TECHNICAL_TABLES = ("alembic_version", "rate_limit_bucket")

Schema = dict[str, Any]
Wrap = Callable[[Any], Any]


def _resolve(schema: Schema, document: Schema) -> Schema:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _kinds(schema: Schema, document: Schema) -> set[str]:
    """The JSON types a schema admits besides null."""
    schema = _resolve(schema, document)
    if "type" in schema:
        kinds = {schema["type"]} if isinstance(schema["type"], str) else set(schema["type"])
    elif "enum" in schema:
        kinds = {"string"}
    else:
        kinds = set()
        for member in schema.get("oneOf", []) + schema.get("anyOf", []):
            kinds |= _kinds(member, document)
    return kinds - {"null"}


NEAR_MISSES: dict[str, tuple[Any, ...]] = {
    "boolean": (1, "true", 0),
    "integer": ("2", 2.5, True),
    "number": ("2.5", True),
    "string": (12, True),
    "array": ("[]", {}),
    "object": ("{}", []),
}
SAMPLE: dict[str, Any] = {
    "boolean": True,
    "integer": 1,
    "number": 1.0,
    "string": "x",
    "array": [],
    "object": {},
}


def _probes(schema: Schema, document: Schema, path: str, wrap: Wrap) -> Iterator[tuple[Any, str, str]]:
    """(body, field, what) for every field of `schema`: each body holds only the probed field."""
    schema = _resolve(schema, document)
    for name, prop in schema.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        kinds = _kinds(prop, document)
        if len(kinds) != 1:
            continue  # a union (epoch seconds or RFC 3339): its members are probed where they stand alone
        (kind,) = kinds
        for wrong in NEAR_MISSES[kind]:
            yield wrap({name: wrong}), field, f"{kind} sent as {json.dumps(wrong)}"
        yield wrap([(name, SAMPLE[kind]), (name, SAMPLE[kind])]), field, "the key twice"
        if kind == "string":
            yield wrap({name: "a\x00b"}), field, "text with NUL"
        resolved = _resolve(prop, document)
        if kind == "array":
            items = _resolve(resolved.get("items", {}), document)
            if "properties" in items:
                yield from _probes(items, document, f"{field}[0]", _inside(wrap, name, as_list=True))
        if kind == "object" and "properties" in resolved:
            yield from _probes(resolved, document, field, _inside(wrap, name, as_list=False))


def _inside(wrap: Wrap, name: str, *, as_list: bool) -> Wrap:
    return lambda value: wrap({name: [value] if as_list else value})


def _encode(body: Any) -> str:
    """JSON text; a list of pairs becomes an object that repeats its keys."""
    if isinstance(body, list) and body and all(isinstance(p, tuple) for p in body):
        return "{" + ", ".join(f"{json.dumps(k)}: {_encode(v)}" for k, v in body) + "}"
    if isinstance(body, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_encode(v)}" for k, v in body.items()) + "}"
    if isinstance(body, list):
        return "[" + ", ".join(_encode(v) for v in body) + "]"
    return json.dumps(body)


def _json_body(operation: Schema, document: Schema) -> Schema | None:
    content = operation.get("requestBody", {}).get("content", {})
    return content["application/json"]["schema"] if "application/json" in content else None


def _path_value(name: str, operation: Schema, document: Schema) -> str:
    for parameter in operation.get("parameters", []):
        if parameter["name"] == name:
            schema = _resolve(parameter["schema"], document)
            if "enum" in schema:
                return str(schema["enum"][0])
    return str(uuid.uuid4())


async def _row_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        names = (
            await conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        ).scalars()
        return {
            name: (await conn.execute(sa.text(f'SELECT count(*) FROM "{name}"'))).scalar_one()
            for name in names
            if name not in TECHNICAL_TABLES
        }


async def test_every_write_endpoint_refuses_a_loose_body_naming_the_field_and_stores_nothing(
    client: AsyncTestClient[Litestar], register: Register, clean_db: AsyncEngine
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    citizen = await register(consents=ALL_CONSENTS, birthYear=1990)
    staff_tokens = {role: (await staff(client, role)).access_token for role in (Role.PLANNER, Role.ADMIN)}
    staff_tokens[Role.TEACHER] = (await staff(client, Role.TEACHER)).access_token
    handlers = handlers_by_operation(client.app)
    before = await _row_counts(clean_db)
    probed, missing = 0, []
    for (method, path), handler in sorted(handlers.items()):
        if method not in WRITES:
            continue
        operation = document["paths"][path][method.lower()]
        schema = _json_body(operation, document)
        if schema is None:
            if (method, path) not in TAKE_NO_BODY:
                missing.append(f"{method} {path}")
            continue
        url = path
        for name in [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]:
            url = url.replace("{" + name + "}", _path_value(name, operation, document))
        token = token_for(handler, citizen.access_token, staff_tokens)
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"strict-{uuid.uuid4().hex}",
        }
        for body, field, what in _probes(schema, document, "", lambda v: v):
            answer = await client.request(method, url, content=_encode(body), headers=headers)
            said = f"{method} {path} with {field}: {what} -> {answer.status_code} {answer.text}"
            assert answer.status_code == 400, said
            assert answer.headers["content-type"].startswith("application/problem+json"), said
            assert field in [e["field"] for e in answer.json()["errors"]], said
            probed += 1
    assert not missing, f"these write endpoints read no documented JSON body; declare it: {missing}"
    assert probed > 150
    assert await _row_counts(clean_db) == before


async def test_a_consent_is_granted_only_by_an_explicit_json_true(
    client: AsyncTestClient[Litestar], register: Register
) -> None:
    user = await register()
    for granted in ("1", '"true"', '"yes"', "null", "1.0"):
        body = '{"granted": ' + granted + ', "policyVersion": "2026-01"}'
        refused = await client.put(
            "/me/consents/ride_tracking",
            content=body,
            headers={**user.auth, "Content-Type": "application/json"},
        )
        assert refused.status_code == 400, (granted, refused.text)
    repeated = '{"granted": false, "policyVersion": "2026-01", "granted": true}'
    refused = await client.put(
        "/me/consents/ride_tracking",
        content=repeated,
        headers={**user.auth, "Content-Type": "application/json"},
    )
    assert refused.status_code == 400
    assert (await client.get("/me/consents", headers=user.auth)).json()["history"] == []
    granted = await client.put(
        "/me/consents/ride_tracking", json={"granted": True, "policyVersion": "2026-01"}, headers=user.auth
    )
    assert granted.status_code == 200
    assert granted.json()["granted"] is True
