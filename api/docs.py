"""The interactive API docs (Swagger UI at ``/schema``), with every asset served by this service.

Litestar's Swagger page loads its script, stylesheet and icon from a CDN:
code from another origin running on the API's, and docs that fail offline.
The assets come instead from the ``swagger-ui-bundle-v2`` package, served
under ``/schema/assets``; the page's Content-Security-Policy (``api.headers``)
allows scripts from this origin only.
"""

from __future__ import annotations

from typing import Final

from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS: Final = "/schema/assets"


def swagger_page() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )


docs_assets = create_static_files_router(
    path=ASSETS,
    directories=[str(swagger_ui_path)],
    include_in_schema=False,
    name="docs-assets",
    cache_control=CacheControlHeader(public=True, max_age=3600),
)
