"""Every error leaves the service as an RFC 9457 problem document, mapped here once."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from domain.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from domain.core.sql import CONNECTION_LOST_SQLSTATES, TRANSIENT_SQLSTATES
from geo.errors import FieldError, OutsideUploadWindow, TraceError

log = logging.getLogger("saferoutes.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:saferoutes:problem:"

_STATUS = (
    (InvalidInput, 422),
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooManyRequests, 429),
)

_GENERIC_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "body-too-large",
    415: "unsupported-media-type",
    422: "invalid-input",
    429: "rate-limited",
    503: "service-unavailable",
}

# msgspec says "... - at `$.points[3].lat`"; Litestar adds keys like "data.handle"
_AT_PATH = re.compile(r"at `\$(?P<path>[^`]*)`")


def problem(
    request: Request[Any, Any, Any],
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["requestId"] = request_id
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


_UNKNOWN_FIELD = re.compile(r"(?:unknown|missing required) field `(?P<name>[^`]+)`")
# Litestar: "Missing required query parameter 'a' for path /x?b=…" — the query may hold coordinates
_MISSING_PARAM = re.compile(r"^Missing required (?P<kind>[\w ]+?) '(?P<name>[^']+)'")


def _field_of(message: dict[str, Any]) -> str:
    text = str(message.get("message", ""))
    missing = _MISSING_PARAM.match(text)
    if missing:
        return missing.group("name")
    unknown = _UNKNOWN_FIELD.search(text)
    match = _AT_PATH.search(text)
    path = match.group("path").lstrip(".") if match else str(message.get("key") or "")
    if path in ("", "data"):
        path = ""
    if unknown:
        return f"{path}.{unknown.group('name')}" if path else unknown.group("name")
    return path or str(message.get("source") or "body")


def _wire_name(request: Request[Any, Any, Any], field: str) -> str:
    """The name a parameter has in the request (`from`), not in the handler (`from_`)."""
    try:
        declared = request.route_handler.parsed_fn_signature.parameters.get(field)
    except (AttributeError, KeyError):  # refused before routing: no handler
        return field
    definition = getattr(declared, "kwarg_definition", None)
    alias = next(
        (getattr(definition, a, None) for a in ("name", "query", "header") if getattr(definition, a, None)),
        None,
    )
    return str(alias) if alias else field


def _clean_message(text: str) -> str:
    missing = _MISSING_PARAM.match(text)
    if missing:
        return f"Missing required {missing.group('kind')} '{missing.group('name')}'"
    return _AT_PATH.sub("", text).rstrip(" -")


def handle_domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), 400)
    extra = dict(exc.extra)
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidInput):
        extra["errors"] = [{"field": exc.field, "message": exc.detail}]
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="saferoutes"'
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after_s)
    return problem(
        request, status=status, code=exc.code, title=exc.title, detail=exc.detail, headers=headers, **extra
    )


def handle_field_error(request: Request[Any, Any, Any], exc: FieldError) -> Response[dict[str, Any]]:
    """A geo or privacy rule (trace limits, GPX, privacy zone) refused a value: 422 naming the field."""
    code = "invalid-trace" if isinstance(exc, TraceError) else "invalid-input"
    title = "Invalid input"
    if isinstance(exc, OutsideUploadWindow):
        code, title = "outside-upload-window", "Outside the upload window"
    return problem(
        request,
        status=422,
        code=code,
        title=title,
        detail=f"{exc.field}: {exc.message}.",
        errors=[{"field": exc.field, "message": exc.message}],
    )


def handle_validation_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    raw = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {"field": _wire_name(request, _field_of(m)), "message": _clean_message(str(m.get("message", "")))}
        for m in raw
        if isinstance(m, dict)
    ]
    if not errors:
        detail = str(exc.detail)
        missing = _MISSING_PARAM.match(detail)
        errors = [{"field": missing.group("name") if missing else "body", "message": _clean_message(detail)}]
    fields = ", ".join(e["field"] for e in errors)
    return problem(
        request,
        status=400,
        code="validation-failed",
        title="Invalid request",
        detail=f"The request has invalid or missing values: {fields}.",
        errors=errors,
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    code = _GENERIC_CODES.get(status, "http-error")
    detail = str(exc.detail) if exc.detail else code.replace("-", " ")
    if status == 413:
        detail = "The request body is larger than this endpoint accepts."
    headers = dict(exc.headers or {})
    return problem(
        request, status=status, code=code, title=detail.split(".")[0][:80], detail=detail, headers=headers
    )


def handle_database_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem(
        request,
        status=HTTP_503_SERVICE_UNAVAILABLE,
        code="service-unavailable",
        title="Service temporarily unavailable",
        detail="The database cannot be reached right now; nothing was stored. Retry shortly.",
        headers={"Retry-After": "5"},
    )


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and what caused it, at most five deep (SQLAlchemy's error, the driver's, a socket's)."""
    seen = 0
    while exc is not None and seen < 5:
        yield exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1


def _is_connection_problem(exc: BaseException | None) -> bool:
    for cause in _causes(exc):
        if isinstance(cause, OSError):
            return True
        sqlstate = str(getattr(cause, "sqlstate", "") or "")
        if sqlstate.startswith(CONNECTION_LOST_SQLSTATES):
            return True
        name = type(cause).__name__
        if name in ("ConnectionDoesNotExistError", "ConnectionFailureError", "CannotConnectNowError"):
            return True
        if name == "InterfaceError" and "connection" in str(cause).lower():
            return True
    return False


def _sqlstate(exc: BaseException | None) -> str:
    """The SQLSTATE the server gave, from the driver's exception under SQLAlchemy's (or "")."""
    for cause in _causes(exc):
        if sqlstate := str(getattr(cause, "sqlstate", "") or ""):
            return sqlstate
    return ""


def handle_transient_conflict(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """The server cancelled a statement that will succeed when retried: a read a streaming replica
    cancelled because it conflicted with replay, a serialization failure, a deadlock. A 503 with a
    short Retry-After, as clients already retry those; never a 500."""
    log.warning("database conflict, the client retries", extra={"sqlstate": _sqlstate(exc.orig)})
    return problem(
        request,
        status=HTTP_503_SERVICE_UNAVAILABLE,
        code="service-unavailable",
        title="Service temporarily unavailable",
        detail="The database cancelled the request because of a concurrent change; nothing was stored. "
        "Retry shortly.",
        headers={"Retry-After": "1"},
    )


def handle_dbapi_error(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[dict[str, Any]]:
    """asyncpg reports a dying or restarting server in several ways; all of them are a 503, not a 500.
    So is a statement the server cancelled that will succeed when retried (:data:`TRANSIENT_SQLSTATES`)."""
    if exc.connection_invalidated or _is_connection_problem(exc.orig):
        return handle_database_unavailable(request, exc)
    if _sqlstate(exc.orig) in TRANSIENT_SQLSTATES:
        return handle_transient_conflict(request, exc)
    return handle_unexpected(request, exc)


def handle_undecodable_body(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """A body that is not UTF-8, or JSON nested deeper than the decoder recurses: the client's fault."""
    if isinstance(exc, RecursionError) and not any(w in str(exc) for w in ("deserializ", "decoding")):
        return handle_unexpected(request, exc)
    reason = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "is nested too deeply"
    return problem(
        request,
        status=400,
        code="validation-failed",
        title="Invalid request",
        detail=f"The request body {reason}.",
        errors=[{"field": "body", "message": f"The body {reason}."}],
    )


def _code_path(exc: BaseException) -> str:
    """Where `exc` (and what caused it) happened: exception types and stack frames, no message.

    Messages quote values (SQLAlchemy's a statement's parameters, asyncpg the
    value it refused), and request values (handles, coordinates) must never
    reach the logs.
    """
    lines: list[str] = []
    for current in _causes(exc):
        lines.append(f"{type(current).__module__}.{type(current).__qualname__}")
        lines.extend(traceback.format_tb(current.__traceback__))
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    route = request.scope.get("path_template") or "unrouted"
    log.error(
        "unhandled error", extra={"route": route, "error": type(exc).__qualname__, "where": _code_path(exc)}
    )
    return problem(
        request,
        status=HTTP_500_INTERNAL_SERVER_ERROR,
        code="internal-error",
        title="Internal server error",
        detail="Something went wrong on our side; the request was not applied.",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: handle_domain_error,
    FieldError: handle_field_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    OperationalError: handle_database_unavailable,
    InterfaceError: handle_database_unavailable,
    PoolTimeoutError: handle_database_unavailable,
    DBAPIError: handle_dbapi_error,
    # ConnectionRefusedError, a reset socket, a connect timeout (TimeoutError is an OSError)
    OSError: handle_database_unavailable,
    UnicodeDecodeError: handle_undecodable_body,
    RecursionError: handle_undecodable_body,
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_MEDIA_TYPE", "MediaType", "problem"]
