"""Wire types of the routes API and the one place a route becomes them (camelCase, metres to 0.1).

Both routers' results (the cell graph's ``RouteResult``, the street graph's ``StreetRoute``)
are rendered here, for GET /routes/safe, its GPX twin and the school route report alike.
"""

from __future__ import annotations

from typing import Literal

from api.wire import Out
from geo.routing.search import RouteComparison, RouteResult
from geo.streets.route import StreetComparison
from geo.streets.search import StreetRoute


class RouteFigures(Out):
    length_m: float
    danger_exposure: float
    mean_danger: float
    hazards_on_route: int
    unridden_m: float
    separated_m: float | None
    """Metres on separated cycling infrastructure; null on the cell graph, which knows no streets."""


class RouteStep(Out):
    """One turn-by-turn instruction: turn ``turn`` onto ``name`` and ride ``distance_m``."""

    name: str | None
    """The street's name; null on an unnamed way (a path, a cycle track), consecutive ones one step."""
    distance_m: float
    turn: str


class RouteProperties(RouteFigures):
    profile: str
    shortest: RouteFigures
    graph_version: str
    network: Literal["streets", "cells"]
    steps: list[RouteStep]


class LineString(Out):
    type: Literal["LineString"]
    coordinates: list[list[float]]


class RouteFeature(Out):
    """GeoJSON Feature (RFC 7946): the route's line, ``[lon, lat]`` (on the cell graph through cell
    centres, simplified)."""

    type: Literal["Feature"]
    geometry: LineString
    properties: RouteProperties


def route_figures(route: RouteResult | StreetRoute) -> RouteFigures:
    """What the app shows of a route, on either graph; ``unriddenM`` is the cell graph's fallback metres."""
    separated: float | None = None
    if isinstance(route, StreetRoute):
        unridden, separated = route.unridden_m, round(route.separated_m, 1)
    else:
        unridden = route.fallback_m
    return RouteFigures(
        length_m=round(route.length_m, 1),
        danger_exposure=round(route.danger_exposure, 1),
        mean_danger=round(route.mean_danger, 1),
        hazards_on_route=route.hazards_on_route,
        unridden_m=round(unridden, 1),
        separated_m=separated,
    )


def route_feature(found: RouteComparison | StreetComparison, graph_version: str) -> RouteFeature:
    """The answer of GET /routes/safe: the chosen route, its steps, and the shortest route's figures."""
    route = found.route
    figures = route_figures(route)
    steps = (
        [RouteStep(name=s.name, distance_m=s.distance_m, turn=s.turn) for s in route.steps]
        if isinstance(route, StreetRoute)
        else []
    )
    return RouteFeature(
        type="Feature",
        geometry=LineString(type="LineString", coordinates=route.geometry["coordinates"]),
        properties=RouteProperties(
            length_m=figures.length_m,
            danger_exposure=figures.danger_exposure,
            mean_danger=figures.mean_danger,
            hazards_on_route=figures.hazards_on_route,
            unridden_m=figures.unridden_m,
            separated_m=figures.separated_m,
            profile=route.profile,
            shortest=route_figures(found.shortest),
            graph_version=graph_version,
            network="streets" if isinstance(route, StreetRoute) else "cells",
            steps=steps,
        ),
    )
