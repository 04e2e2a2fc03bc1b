"""Safe routes over HTTP: GET /routes/safe on the worker's cached street graph, or cell graph without one;
GET /routes/safe.gpx answers the same route as a GPX 1.1 track.

Errors, all RFC 9457 problem documents naming the parameter at fault:
- 422 ``invalid-input``: ``from``/``to`` is not ``lat,lon`` with two finite numbers in range;
- 422 ``outside-service-area``: ``from``/``to`` is farther than 250 m from every street a bicycle
  may use (with a street network), or than 150 m from every graph cell (without);
- 422 ``unreachable``: both points are served, but no edge joins their parts of the area
  (the request is understood, the parameters combine to no answer: the client changes
  ``from`` or ``to``; a 404 would read as "no such endpoint");
- 422 ``unknown-profile``: ``profile`` is none of safest, balanced, shortest, child;
- 503 ``routing-unavailable`` with Retry-After: nobody has ridden enough yet for a network.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.params import QueryParameter

from api.problems import problem
from api.routing.wire import RouteFeature, route_feature
from domain.core.errors import InvalidInput
from domain.routing.rules import RoutingUnavailable
from domain.routing.service import ROUTE_PROFILES, GraphCache, find_route
from geo.errors import FieldError
from geo.gpx import route_to_gpx
from geo.routing.graph import OutsideServiceArea, RoutingError, UnknownProfile, Unreachable
from geo.streets.search import NoStreetRoute, OffNetwork, StreetRoutingError

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_POSITION = re.compile(rf"^\s*(?P<lat>{_NUMBER})\s*,\s*(?P<lon>{_NUMBER})\s*$")
_POSITION_DOC = "lat,lon in WGS84 decimal degrees, e.g. 51.0259,4.4776 (latitude first)"

_REQUIRED_DOC = f"Required: {_POSITION_DOC}"
_PLAIN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
POSITION_PATTERN = rf"^ *{_PLAIN} *, *{_PLAIN} *$"
"""The form the document states (plain ASCII numbers); the ranges are checked by `parse_position` (422)."""
# Optional to Litestar so that a missing one is a 422 naming it, like a malformed one (and
# Litestar's own message would echo the query string, coordinates included); the document
# marks it required (api.openapi.REQUIRED_QUERY).
Position = Annotated[
    str | None, QueryParameter(max_length=64, pattern=POSITION_PATTERN, description=_REQUIRED_DOC)
]
From = Annotated[
    str | None,
    QueryParameter(name="from", max_length=64, pattern=POSITION_PATTERN, description=_REQUIRED_DOC),
]
ProfileQuery = Annotated[
    str,
    QueryParameter(
        max_length=16,
        enum=list(ROUTE_PROFILES),
        description="what the route optimises; child avoids streets above 30 km/h without "
        "separated infrastructure",
    ),
]


def parse_position(raw: str | None, field: str) -> tuple[float, float]:
    """``lat,lon`` → (lat, lon): two plain decimal numbers, latitude within ±90, longitude within ±180."""
    if raw is None:
        raise InvalidInput(field, f"{field} is required: {_POSITION_DOC}.")
    match = _POSITION.match(raw)
    if match is None:
        raise InvalidInput(field, f"{field} must be {_POSITION_DOC}.")
    lat, lon = float(match["lat"]), float(match["lon"])
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(field, f"{field}: the latitude (first number) must be between -90 and 90.")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(field, f"{field}: the longitude (second number) must be between -180 and 180.")
    return lat, lon


_ROUTING_CODES: tuple[tuple[type[FieldError], str, str], ...] = (
    (OutsideServiceArea, "outside-service-area", "Outside the service area"),
    (OffNetwork, "outside-service-area", "Outside the service area"),
    (Unreachable, "unreachable", "No route joins these points"),
    (NoStreetRoute, "unreachable", "No route joins these points"),
    (UnknownProfile, "unknown-profile", "Unknown profile"),
)


def handle_routing_error(request: Request[Any, Any, Any], exc: FieldError) -> Response[dict[str, Any]]:
    code, title = next(
        ((c, t) for cls, c, t in _ROUTING_CODES if isinstance(exc, cls)), ("invalid-input", "")
    )
    return problem(
        request,
        status=422,
        code=code,
        title=title or "Invalid input",
        detail=f"{exc.field}: {exc.message}.",
        errors=[{"field": exc.field, "message": exc.message}],
    )


def handle_unavailable(request: Request[Any, Any, Any], exc: RoutingUnavailable) -> Response[dict[str, Any]]:
    return problem(
        request,
        status=503,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


class RoutesController(Controller):
    path = "/routes"
    tags = ["routes"]
    exception_handlers = {
        RoutingError: handle_routing_error,
        StreetRoutingError: handle_routing_error,
        RoutingUnavailable: handle_unavailable,
    }

    @get(
        "/safe",
        summary="A safe route between two points, with the shortest route's figures to compare",
        description=(
            "With an imported street network (network: streets), snaps from and to onto the nearest "
            "street a bicycle may use and follows the streets, one-ways included, with turn-by-turn "
            "steps; without one (network: cells), snaps to the cell graph (cells people ride plus a "
            "penalised grid). Figures: lengthM, dangerExposure (metres at full danger), meanDanger "
            "(0-100), hazardsOnRoute (open confirmed hazards), unriddenM, separatedM (streets only); "
            "the shortest route's under properties.shortest. Anyone may ask."
        ),
    )
    async def safe(
        self, state: State, from_: From = None, to: Position = None, profile: ProfileQuery = "safest"
    ) -> RouteFeature:
        return await _route(state, from_, to, profile)

    @get(
        "/safe.gpx",
        summary="The same safe route as a GPX 1.1 track, for a bicycle computer or a phone app",
        description=(
            "Same parameters, same route and same errors as GET /routes/safe; the answer is a GPX 1.1 "
            "document (application/gpx+xml) with one track whose points are the route's coordinates, "
            "named after the profile and described with its length and danger figures."
        ),
        media_type="application/gpx+xml",
    )
    async def safe_gpx(
        self, state: State, from_: From = None, to: Position = None, profile: ProfileQuery = "safest"
    ) -> Response[bytes]:
        route = await _route(state, from_, to, profile)
        p = route.properties
        name = f"SafeRoutes {p.profile} route"
        desc = (
            f"{p.length_m:.0f} m on {p.network}, mean danger {p.mean_danger:.1f}/100, "
            f"{p.hazards_on_route} confirmed hazards"
            + (f", {p.separated_m:.0f} m on separated cycle tracks" if p.separated_m is not None else "")
            + f"; shortest route {p.shortest.length_m:.0f} m. Graph {p.graph_version}."
        )
        document = route_to_gpx(route.geometry.coordinates, name=name, desc=desc)
        return Response(
            document.encode(),
            media_type="application/gpx+xml",
            headers={"Content-Disposition": f'attachment; filename="saferoutes-{p.profile}.gpx"'},
        )


async def _route(state: State, from_: str | None, to: str | None, profile: str) -> RouteFeature:
    origin, target = parse_position(from_, "from"), parse_position(to, "to")
    graphs: GraphCache = state.route_graphs
    found, version = await find_route(graphs, *origin, *target, profile)
    return route_feature(found, version)
