"""Complete the OpenAPI document: every error an operation can answer, as a problem document.

Litestar documents what a handler returns and a 400 of its own shape; the
errors our guards, domain rules and exception handlers produce are invisible
to it. They follow from the route's shape, so they are added here from the
guards, the method, the path and the body of each operation, for every route,
including routes that land later. Clients (and the schema fuzzing in the test
suite) can then rely on the document: any status the service answers is in it,
with the schema of its body.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute

from api.problems import PROBLEM_MEDIA_TYPE
from domain.core.idempotency import HEADER as IDEMPOTENCY_HEADER
from domain.core.idempotency import KEY_PATTERN

IDEMPOTENCY_PATTERN = KEY_PATTERN.pattern

PROBLEM_REF = Reference(ref="#/components/schemas/Problem")
BEARER = "bearerAuth"

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    description="RFC 9457 problem document; `type` is a stable `urn:saferoutes:problem:…` slug.",
    required=["type", "title", "status", "detail"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER, minimum=400, maximum=599),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "requestId": Schema(type=OpenAPIType.STRING),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="The offending fields, for validation errors.",
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={
                    "field": Schema(type=OpenAPIType.STRING),
                    "message": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
    },
)

_DESCRIPTIONS = {
    400: "The request is malformed: unreadable JSON, a wrong type, a missing or unknown field.",
    401: "No valid access token (also for any route when the Authorization header is invalid).",
    403: "The caller's role, or a missing consent (a guardian's for a child), forbids this.",
    404: "No such object, or it is not the caller's.",
    405: "The method is not allowed on this path.",
    409: "The request conflicts with the current state.",
    413: "The request body is larger than this endpoint accepts.",
    415: "The request body's media type is not one this endpoint reads.",
    422: "A value is well-formed but breaks a rule; `errors[].field` names it.",
    429: "Rate limited; retry after `Retry-After` seconds.",
    503: "The database (or a derived resource) is unavailable right now; retry after `Retry-After` seconds.",
}
_RETRY_AFTER = {
    "Retry-After": OpenAPIHeader(
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0), description="Seconds to wait before retrying."
    )
}

# Guards are closures made by these factories (api.security); their qualified names say what they check.
_AUTH_GUARDS = frozenset({"authenticated", "requires_role", "requires_consent", "throttled"})
_FORBIDDING_GUARDS = frozenset({"requires_role", "requires_consent"})
# Routes that count attempts themselves instead of through the `throttled` guard.
_SELF_LIMITED = frozenset(
    {
        ("POST", "/auth/login"),
        ("POST", "/auth/register"),
        ("POST", "/guardian-consents"),
        ("POST", "/guardian-erasures"),
    }
)
ABSENT_UNTIL_MADE = frozenset({("GET", "/streets/network")})
"""Operations on a singleton that answer 404 until it exists (no street network imported yet)."""
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Success answers in more than one format (chosen by `?format=` or `Accept`), which handlers that
# build their own Response cannot declare. JSON flavours keep the documented schema; others are text.
_JSON_FLAVOURS = ("application/geo+json", "application/ld+json")
ALTERNATE_MEDIA: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/me/export"): ("application/gpx+xml",),
    ("GET", "/metrics"): ("text/plain",),
    ("GET", "/planner/map"): ("text/html",),
    ("GET", "/planner/heatmap"): ("application/geo+json", "text/csv"),
    ("GET", "/planner/flows"): ("application/geo+json", "text/csv"),
    ("GET", "/planner/schools/{school_id}/route-report"): ("application/geo+json", "text/csv"),
    ("GET", "/ngsi-ld/contexts/saferoutes.jsonld"): ("application/ld+json",),
    ("GET", "/ngsi-ld/v1/entities"): ("application/ld+json", "application/geo+json"),
    ("GET", "/ngsi-ld/v1/entities/{entity_id}"): ("application/ld+json", "application/geo+json"),
}


def _guard_kinds(handler: HTTPRouteHandler) -> set[str]:
    return {getattr(g, "__qualname__", "").split(".")[0] for g in handler.resolve_guards()}


def _problem_response(status: int) -> OpenAPIResponse:
    media = OpenAPIMediaType(schema=PROBLEM_REF)
    return OpenAPIResponse(
        description=_DESCRIPTIONS[status],
        # NGSI-LD clients ask for application/json; its errors keep the problem shape
        content={PROBLEM_MEDIA_TYPE: media, "application/json": media},
        headers=dict(_RETRY_AFTER) if status in (429, 503) else None,
    )


def error_statuses(method: str, path: str, operation: Operation, guards: set[str]) -> set[int]:
    """The problem statuses an operation can answer, from what it takes and what guards it."""
    statuses = {401, 503}  # any route: a malformed bearer token; the database going away
    has_body = operation.request_body is not None or method in _BODY_METHODS
    if has_body or operation.parameters:
        statuses |= {400, 422}
    if has_body:
        statuses |= {413, 415}
    if any(_names_an_object(p) for p in operation.parameters or ()):
        statuses.add(404)  # e.g. ?scopeId= of a class that does not exist
    if guards & _AUTH_GUARDS:
        statuses.add(403)  # e.g. a child without a guardian's consent, a teacher of another school
    if guards & _FORBIDDING_GUARDS:
        statuses.add(403)
    if "{" in path or (method, path) in ABSENT_UNTIL_MADE:
        statuses.add(404)
    if method in _WRITE_METHODS:
        statuses |= {404, 409, 422}
    if "throttled" in guards or (method, path) in _SELF_LIMITED:
        statuses.add(429)
    return statuses


def _names_an_object(parameter: Any) -> bool:
    name = str(getattr(parameter, "name", "")).lower()
    return name.endswith("id") and name != "id"


def _add_alternates(method: str, path: str, responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        if not status.startswith("2") or not isinstance(response, OpenAPIResponse) or not response.content:
            continue
        documented = next(iter(response.content.values()))
        if isinstance(documented.schema, Schema) and documented.schema.type == OpenAPIType.STRING:
            documented = OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT))  # bytes of a JSON document
        for media in ALTERNATE_MEDIA.get((method, path), ()):
            schema = (
                documented
                if media in _JSON_FLAVOURS
                else OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
            )
            response.content.setdefault(media, schema)


def _operations(app: Litestar) -> list[tuple[str, str, HTTPRouteHandler]]:
    found: list[tuple[str, str, HTTPRouteHandler]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            found.extend((method, route.path_format, handler) for method in handler.http_methods)
    return found


IDEMPOTENCY_HEADERS: dict[tuple[str, str], bool] = {
    ("POST", "/rides"): True,
    ("POST", "/hazards"): True,
    ("POST", "/open311/v2/requests.json"): False,
}
"""Operations that read an `Idempotency-Key` (a header Litestar does not see), and whether it is required."""
REQUIRED_QUERY: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/routes/safe"): ("from", "to"),
    ("GET", "/routes/safe.gpx"): ("from", "to"),
    ("GET", "/streets"): ("bbox",),
    ("GET", "/ngsi-ld/v1/entities"): ("type",),
}
"""Parameters optional to Litestar only so that their absence is our own 422 naming them."""
AT_LEAST_ONE_FIELD = frozenset({"TriagePatch"})
"""PATCH bodies that must change something."""


def _idempotency_key(required: bool) -> Parameter:
    return Parameter(
        name=IDEMPOTENCY_HEADER,
        param_in=ParamType.HEADER,
        required=required,
        description="8 to 128 printable ASCII characters; a retry with the same key and body replays",
        schema=Schema(type=OpenAPIType.STRING, pattern=IDEMPOTENCY_PATTERN),
    )


def _not_null(parameter: Parameter) -> None:
    """A required parameter has a value: drop the null Litestar reads the text `null` as."""
    schema = parameter.schema
    if isinstance(schema, Schema) and isinstance(schema.type, list):
        kinds = [t for t in schema.type if t != OpenAPIType.NULL]
        schema.type = kinds[0] if len(kinds) == 1 else kinds
        schema.enum = [v for v in schema.enum if v is not None] if schema.enum else schema.enum
    if isinstance(schema, Schema) and schema.one_of:
        kept = [s for s in schema.one_of if not (isinstance(s, Schema) and s.type == OpenAPIType.NULL)]
        if len(kept) == 1 and isinstance(kept[0], Schema) and schema.type is None:
            member = kept[0]
            schema.one_of = None
            schema.type = member.type
            schema.enum = schema.enum or member.enum
            schema.format = schema.format or member.format
            schema.items = schema.items or member.items
        else:
            schema.one_of = kept


def _refs(schema: Any, found: set[str]) -> None:
    """The component names `schema` refers to, at any depth."""
    if isinstance(schema, Reference):
        name = schema.ref.rsplit("/", 1)[-1]
        if name not in found:
            found.add(name)
    elif isinstance(schema, Schema):
        for child in (
            *(schema.one_of or ()),
            *(schema.any_of or ()),
            *(schema.all_of or ()),
            *(schema.properties or {}).values(),
            schema.items,
        ):
            if child is not None:
                _refs(child, found)


def _strict_bodies(components: Components, operations: list[Operation]) -> None:
    """Request bodies refuse unknown keys (`api.strict`); say so, at every depth of their schemas."""
    names: set[str] = set()
    for operation in operations:
        body = operation.request_body
        if isinstance(body, RequestBody) and "application/json" in (body.content or {}):
            _refs(body.content["application/json"].schema, names)
    pending = set(names)
    while pending:
        schema = components.schemas.get(pending.pop())
        if isinstance(schema, Schema):
            before = set(names)
            _refs(schema, names)
            pending |= names - before
    for name in names:
        schema = components.schemas.get(name)
        if isinstance(schema, Schema) and schema.properties is not None:
            schema.additional_properties = False
            if name in AT_LEAST_ONE_FIELD:
                schema.min_properties = 1


def complete(document: OpenAPI, app: Litestar) -> OpenAPI:
    """Add the problem responses, the Problem schema and bearer security to `document`, in place."""
    components = document.components if isinstance(document.components, Components) else Components()
    document.components = components
    components.schemas["Problem"] = PROBLEM_SCHEMA
    components.security_schemes = {
        **(components.security_schemes or {}),
        BEARER: SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
    }
    paths = document.paths or {}
    completed: list[Operation] = []
    for method, path, handler in _operations(app):
        item = paths.get(path)
        operation = getattr(item, method.lower(), None) if item is not None else None
        if not isinstance(operation, Operation):
            continue
        completed.append(operation)
        if (method, path) in IDEMPOTENCY_HEADERS:
            operation.parameters = [
                *(operation.parameters or []),
                _idempotency_key(IDEMPOTENCY_HEADERS[method, path]),
            ]
        for parameter in operation.parameters or ():
            if not isinstance(parameter, Parameter):
                continue
            if parameter.name in REQUIRED_QUERY.get((method, path), ()):
                parameter.required = True
                _not_null(parameter)
        guards = _guard_kinds(handler)
        responses: dict[str, Any] = dict(operation.responses or {})
        # Litestar's own 400 schema is not what the service sends: replace it
        responses.pop("400", None)
        for status in sorted(error_statuses(method, path, operation, guards)):
            responses.setdefault(str(status), _problem_response(status))
        _add_alternates(method, path, responses)
        operation.responses = responses
        if guards & _AUTH_GUARDS:
            operation.security = [{BEARER: []}]
    _strict_bodies(components, completed)
    return document


def install(app: Litestar) -> None:
    """Complete the document the OpenAPI plugin serves; it keeps the object it built and renders it lazily."""
    from litestar._openapi.plugin import OpenAPIPlugin  # the plugin exposes no post-processing hook

    complete(app.plugins.get(OpenAPIPlugin).provide_openapi(), app)
