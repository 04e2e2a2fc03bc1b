"""The planners' map page: one HTML page and its script and stylesheet, served from ``api/static``.

The page itself is public (it holds no data); it logs in with ``POST /auth/login``
and calls the planner endpoints with the bearer token it keeps in memory, so
every figure on it is guarded, k-anonymous and audited like any export
(docs/planner-map.md). Everything it loads comes from this service: no CDN,
no web fonts, so it works offline; the Content-Security-Policy says so. Its basemap is the
imported street network (GET /streets), unless SAFEROUTES_BASEMAP_TILES names a tile server:
then the page draws those tiles instead, and that origin, and only it, joins ``img-src``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.static_files import create_static_files_router

from api.settings import Settings, check_tile_template

STATIC_DIR: Final = Path(__file__).resolve().parent / "static"
CSP: Final = (
    "default-src 'self'; img-src 'self' data: blob:{tiles}; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_TILES_SLOT: Final = b'data-tiles=""'


def page_csp(tile_origin: str | None) -> str:
    """The page's policy: this origin only, plus the basemap's tile origin for images when one is set."""
    return CSP.format(tiles="" if tile_origin is None else f" {tile_origin}")


@get(
    "/planner/map", tags=["planners"], summary="The planners' map page (HTML; its data calls need a planner)"
)
async def planner_map(settings: NamedDependency[Settings]) -> Response[bytes]:
    page = (STATIC_DIR / "planner-map.html").read_bytes()
    origin = None
    if settings.basemap_tiles is not None:
        origin = check_tile_template(settings.basemap_tiles)
        # the template holds URL-safe characters only (checked): nothing to escape in an attribute
        page = page.replace(_TILES_SLOT, f'data-tiles="{settings.basemap_tiles}"'.encode(), 1)
    # Litestar adds the charset to a text/* type itself; naming it here sent it twice
    return Response(page, media_type="text/html", headers={"Content-Security-Policy": page_csp(origin)})


static_files = create_static_files_router(
    path="/static",
    directories=[STATIC_DIR],
    include_in_schema=False,
    name="static",
    cache_control=CacheControlHeader(public=True, max_age=3600),
)
