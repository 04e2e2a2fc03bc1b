"""NGSI-LD representations: content negotiation, the @context Link, ETSI error documents, entity loading.

NGSI-LD (ETSI GS CIM 009) answers ``application/json`` with the @context in a
``Link`` header, ``application/ld+json`` with it in the body, and
``application/geo+json`` as a GeoJSON Feature or FeatureCollection. Errors are
problem documents whose ``type`` is one of the ETSI error URIs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from litestar import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.settings import Settings
from domain.core.columns import utcnow
from domain.opendata import rules as ngsi
from domain.opendata import store as open_data
from domain.opendata.store import CellWindow
from privacy.release.rules import last_closed_month

CONTEXT_PATH: Final = "/ngsi-ld/contexts/saferoutes.jsonld"
DEFAULT_LIMIT: Final = 20
MAX_LIMIT: Final = 1000
JSON_LD: Final = "application/ld+json"
GEO_JSON: Final = "application/geo+json"
ERRORS: Final = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiError(Exception):
    """An NGSI-LD error: ``kind`` is the ETSI error name (BadRequestData, ResourceNotFound, ...)."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


def bad_request(detail: str) -> NgsiError:
    return NgsiError(400, "BadRequestData", detail)


def handle_ngsi_error(request: Request[Any, Any, Any], exc: NgsiError) -> Response[dict[str, Any]]:
    body = {"type": ERRORS + exc.kind, "title": exc.kind, "status": exc.status, "detail": exc.detail}
    return Response(body, status_code=exc.status, media_type="application/json")


@dataclass(frozen=True, slots=True)
class Shape:
    """How the client wants entities: media type, keyValues or normalized, which attributes."""

    media_type: str
    key_values: bool
    attrs: tuple[str, ...] | None
    context_url: str

    def entity(self, simplified: dict[str, Any]) -> dict[str, Any]:
        projected = ngsi.project(simplified, self.attrs)
        shaped = projected if self.key_values else ngsi.normalized(projected)
        if self.media_type == JSON_LD:
            shaped["@context"] = self.context_url
        return shaped

    def body(self, entities: list[dict[str, Any]]) -> Any:
        if self.media_type == GEO_JSON:
            features = [
                ngsi.feature(ngsi.project(e, self.attrs), key_values=self.key_values) for e in entities
            ]
            context = self.context_url if self.key_values else None
            return ngsi.feature_collection(features, context)
        return [self.entity(e) for e in entities]

    def one(self, entity: dict[str, Any]) -> Any:
        if self.media_type == GEO_JSON:
            return ngsi.feature(ngsi.project(entity, self.attrs), key_values=self.key_values)
        return self.entity(entity)

    def headers(self) -> dict[str, str]:
        if self.media_type == JSON_LD:
            return {}
        link = f'<{self.context_url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        return {"Link": link}


def shape(request: Request[Any, Any, Any], options: str | None, attrs: str | None) -> Shape:
    accept = request.headers.get("accept", "application/json")
    media = next((m for m in (GEO_JSON, JSON_LD) if m in accept), "application/json")
    chosen = {o.strip() for o in (options or "").split(",") if o.strip()}
    unknown = chosen - {"keyValues", "simplified", "normalized", "count"}
    if unknown:
        raise bad_request(f"Unknown options: {', '.join(sorted(unknown))}.")
    names = tuple(a.strip() for a in attrs.split(",") if a.strip()) if attrs else None
    base = str(request.base_url).rstrip("/")
    return Shape(media, bool(chosen & {"keyValues", "simplified"}), names, base + CONTEXT_PATH)


def window(settings: Settings) -> CellWindow:
    """The last whole month, at the open-data resolution, under the release policy."""
    return CellWindow(
        resolution=settings.open_data_resolution,
        month=last_closed_month(utcnow().date()),
        policy=settings.release_policy(),
    )


def _keys(ids: Sequence[str], kind: str) -> list[str]:
    keys = []
    for entity_id in ids:
        try:
            found, key = ngsi.parse_entity_id(entity_id)
        except ngsi.NotAnEntityId:
            continue  # an id this service never gave out matches nothing, like one it no longer holds
        if found == kind:
            keys.append(key)
    return keys


async def query_entities(
    session: AsyncSession,
    settings: Settings,
    *,
    kind: str,
    ids: Sequence[str],
    limit: int,
    offset: int,
    count: bool,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of one type's entities (keyValues form) and, when asked, the total."""
    keys = _keys(ids, kind)
    if ids and not keys:
        return [], 0 if count else None
    if kind == ngsi.ALERT:
        hazard_ids = [uuid.UUID(k) for k in keys]
        rows = await open_data.hazards_page(session, limit=limit, offset=offset, ids=hazard_ids)
        total = await open_data.count_hazards(session) if count and not ids else None
        source = settings.ngsi_alert_source
        return [ngsi.alert(h, source=source) for h in rows], total
    span, now = window(settings), utcnow()
    cells = await open_data.cells_page(session, span, limit=limit, offset=offset, cells=keys, now=now)
    total = await open_data.count_cells(session, span, now=now) if count and not ids else None
    return [ngsi.cell_statistic(c) for c in cells], total


async def read_entity(session: AsyncSession, settings: Settings, entity_id: str) -> dict[str, Any]:
    try:
        kind, _ = ngsi.parse_entity_id(entity_id)
    except ngsi.NotAnEntityId:
        raise NgsiError(404, "ResourceNotFound", "No entity of this service has this id.") from None
    found, _ = await query_entities(
        session, settings, kind=kind, ids=[entity_id], limit=1, offset=0, count=False
    )
    if not found:
        raise NgsiError(404, "ResourceNotFound", f"No entity {entity_id} (or it is not published).")
    return found[0]


__all__ = [
    "CONTEXT_PATH",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "NgsiError",
    "Shape",
    "bad_request",
    "handle_ngsi_error",
    "query_entities",
    "read_entity",
    "shape",
    "window",
]
