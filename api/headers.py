"""Headers every answer carries unless its route says otherwise: no sniffing, no storing, no foreign scripts.

- ``X-Content-Type-Options: nosniff`` on every answer: a browser must take a
  JSON answer, an export or a problem document for what its type says, never
  for a script or a page it guessed.
- ``Cache-Control: no-store`` unless the route set its own: answers carry
  tokens (``/auth/*``) and personal data (``/me``, rides, a child's guardian
  code) that no browser or proxy cache may keep. Static assets (the planner
  map's, the API docs') say they may be cached.
- A Content-Security-Policy on HTML pages without their own: scripts, styles
  and images from this service only (the docs page keeps an inline script),
  so no page of this origin loads code from elsewhere.
- ``Allow`` on an OPTIONS answer names every method of the path. Litestar
  builds the OPTIONS handler with the first handlers registered for a path and
  keeps it when more join (GET and PATCH /hazards/{id} answered ``Allow: GET,
  OPTIONS``), so the header is set here from the app's finished routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from litestar import Litestar
from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HTML_CSP: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
STATIC_CACHE: Final = "public, max-age=3600"


def allowed_methods(app: Litestar) -> Mapping[str, str]:
    """``Allow`` for each path template of `app`: every method its handlers serve."""
    return {
        route.path_format: ", ".join(sorted(route.methods))
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }


def security_headers(app: ASGIApp, allow: Mapping[str, str]) -> ASGIApp:
    """Wrap `app` so that every HTTP answer carries the headers above; `allow` from `allowed_methods`."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if "allow" in headers and scope.get("path_template") in allow:
                    headers["Allow"] = allow[scope["path_template"]]
                headers["X-Content-Type-Options"] = "nosniff"
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                if headers.get("content-type", "").startswith("text/html") and (
                    "content-security-policy" not in headers
                ):
                    headers["Content-Security-Policy"] = HTML_CSP
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware
