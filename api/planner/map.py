"""The planners' map page: one HTML page and its script and stylesheet, served from ``api/static``.

The page itself is public (it holds no data); it logs in with ``POST /auth/login``
and calls the planner endpoints with the bearer token it keeps in memory, so
every figure on it is guarded, k-anonymous and audited like any export
(docs/planner-map.md). Everything it loads comes from this service: no CDN,
no tiles, no web fonts, so it works offline; the Content-Security-Policy says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
CSP: Final = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


@get(
    "/planner/map", tags=["planners"], summary="The planners' map page (HTML; its data calls need a planner)"
)
async def planner_map() -> Response[bytes]:
    page = (STATIC_DIR / "planner-map.html").read_bytes()
    # Litestar adds the charset to a text/* type itself; naming it here sent it twice
    return Response(page, media_type="text/html", headers={"Content-Security-Policy": CSP})


static_files = create_static_files_router(
    path="/static",
    directories=[STATIC_DIR],
    include_in_schema=False,
    name="static",
    cache_control=CacheControlHeader(public=True, max_age=3600),
)
