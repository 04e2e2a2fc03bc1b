"""The imported street network over HTTP: GET /streets (segments in a box) and GET /streets/network.

Public, like GET /routes/safe: street geometry and tags are the city's OpenStreetMap extract,
public data without a person in it; no figure of people is served here (the danger stays in
the planner's released exports). Bounded instead: a box of at most ``MAX_BBOX_KM2``, at most
``MAX_LIMIT`` segments a page, keyset paging on the segment id (docs/api.md).

Errors, RFC 9457 problem documents naming the parameter: 422 for a missing, malformed,
inverted or too large ``bbox``; 404 on /streets/network before any import.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from api.hazards.wire import BBOX_PATTERN
from api.wire import Out
from domain.core.errors import InvalidInput, NotFound
from domain.streets.basemap import DEFAULT_LIMIT, MAX_BBOX_KM2, MAX_LIMIT, BasemapIndex
from domain.streets.store import NetworkInfo
from geo.cells import parse_bbox

GEOJSON = "application/geo+json"

BBoxRequired = Annotated[
    str | None,
    QueryParameter(
        max_length=200,
        pattern=BBOX_PATTERN,
        description=f"Required: minLon,minLat,maxLon,maxLat (WGS84), at most {MAX_BBOX_KM2:g} km²",
    ),
]
SegmentLimit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description="segments per page")]
SegmentCursor = Annotated[
    int | None,
    QueryParameter(ge=0, le=2**31 - 1, description="nextCursor of the previous page (a segment id)"),
]


class NetworkOut(Out):
    id: int
    version: str
    source: str
    imported_at: str
    segment_count: int
    way_count: int
    length_m: float
    bbox: list[float] | None = None


class StreetGeometry(Out):
    type: Literal["LineString"]
    coordinates: list[list[float]]


class StreetProperties(Out):
    name: str | None
    highway: str
    infrastructure: str
    maxspeed_kmh: int | None
    length_m: float
    bicycle_forward: bool
    bicycle_backward: bool
    foot: bool


class StreetFeature(Out):
    type: Literal["Feature"]
    id: int
    geometry: StreetGeometry
    properties: StreetProperties


class StreetCollection(Out):
    """GeoJSON FeatureCollection (RFC 7946) of street segments, ``[lon, lat]``, in segment-id order."""

    type: Literal["FeatureCollection"]
    features: list[StreetFeature]
    network: NetworkOut | None
    next_cursor: int | None


def network_out(network: NetworkInfo, bbox: tuple[float, float, float, float] | None) -> NetworkOut:
    return NetworkOut(
        id=network.id,
        version=network.version,
        source=network.source,
        imported_at=network.imported_at.isoformat().replace("+00:00", "Z"),
        segment_count=network.segment_count,
        way_count=network.way_count,
        length_m=round(network.length_m, 1),
        bbox=None if bbox is None else [round(v, 6) for v in bbox],
    )


def basemap(state: State) -> BasemapIndex:
    index: BasemapIndex | None = state.get("basemap")
    if index is None:
        index = state["basemap"] = BasemapIndex()
    return index


class StreetsController(Controller):
    path = "/streets"
    tags = ["streets"]

    @get(
        "/",
        summary="Street segments of the imported OpenStreetMap network in a box (the planner map's basemap)",
        description=(
            f"Segments whose bounding box meets bbox (at most {MAX_BBOX_KM2:g} km²), in segment-id "
            f"order, at most limit (≤ {MAX_LIMIT}) a page; nextCursor continues. No network yet: an "
            "empty collection with network null. Public OpenStreetMap data, no figure of people."
        ),
        media_type=GEOJSON,
    )
    async def segments(
        self,
        state: State,
        db_session: NamedDependency[AsyncSession],
        bbox: BBoxRequired = None,
        limit: SegmentLimit = DEFAULT_LIMIT,
        cursor: SegmentCursor = None,
    ) -> StreetCollection:
        if bbox is None:
            raise InvalidInput("bbox", "bbox is required: minLon,minLat,maxLon,maxLat.")
        box = parse_bbox(bbox, max_area_km2=MAX_BBOX_KM2)
        page = await basemap(state).page(db_session, box, after=cursor or 0, limit=limit)
        body: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": page.features,
            "network": None if page.network is None else network_out(page.network, None),
            "nextCursor": page.next_cursor,
        }
        return msgspec.convert(body, StreetCollection)

    @get("/network", summary="The imported street network: source, size and extent")
    async def network(self, state: State, db_session: NamedDependency[AsyncSession]) -> NetworkOut:
        boxes = await basemap(state).boxes(db_session)
        if boxes is None:
            raise NotFound("No street network is imported yet (saferoutes streets import FILE).")
        return network_out(boxes.network, boxes.extent())
