"""A street route described: its line, figures and turn-by-turn steps; and the profile-vs-shortest answer.

Turns are read from the bearing change where one named stretch meets the next:
below 20° ``straight``, to 60° ``slight-left``/``slight-right``, to 135°
``left``/``right``, to 170° ``sharp-left``/``sharp-right``, beyond ``u-turn``.
The first step is ``depart``, the last ``arrive`` (0 m). Consecutive pieces on
the same name are one step; an unnamed way's name is None ("" read as None too), and
consecutive unnamed ways are one step (the app says "path").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geo.points import FloatArray, haversine_array_m
from geo.streets.graph import StreetGraph
from geo.streets.search import DEFAULT_MAX_SNAP_M, Piece, Step, StreetRoute, search, snap

_TURNS = ((20.0, "straight"), (60.0, "slight-{}"), (135.0, "{}"), (170.0, "sharp-{}"), (181.0, "u-turn"))


def _cut(lons: FloatArray, lats: FloatArray, a: float, b: float) -> tuple[FloatArray, FloatArray]:
    """The polyline between fractions ``a`` and ``b`` of its length (reversed when ``b < a``)."""
    lo, hi = min(a, b), max(a, b)
    if lo <= 0.0 and hi >= 1.0:  # a whole segment: most pieces of a route
        return (lons[::-1], lats[::-1]) if b < a else (lons, lats)
    step = haversine_array_m(lats[:-1], lons[:-1], lats[1:], lons[1:])
    cum = np.concatenate([[0.0], np.cumsum(step)])
    total = cum[-1]
    at = np.array([lo, hi]) * total
    inner = (cum > at[0]) & (cum < at[1])
    x = np.concatenate([[np.interp(at[0], cum, lons)], lons[inner], [np.interp(at[1], cum, lons)]])
    y = np.concatenate([[np.interp(at[0], cum, lats)], lats[inner], [np.interp(at[1], cum, lats)]])
    return (x[::-1], y[::-1]) if b < a else (x, y)


def _bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def turn_name(before: float, after: float) -> str:
    """The turn from bearing ``before`` to ``after`` (degrees clockwise from north)."""
    delta = (after - before + 180.0) % 360.0 - 180.0
    side = "right" if delta > 0 else "left"
    for limit, name in _TURNS:
        if abs(delta) < limit:
            return name.format(side)
    return "u-turn"


def _end_bearings(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    points = list(zip(x, y, strict=True))
    first = next((i for i in range(len(points) - 1) if points[i] != points[i + 1]), None)
    if first is None:
        return None, None
    last = next(i for i in range(len(points) - 2, -1, -1) if points[i] != points[i + 1])
    a, b, c, d = points[first], points[first + 1], points[last], points[last + 1]
    return _bearing(a[0], a[1], b[0], b[1]), _bearing(c[0], c[1], d[0], d[1])


def describe(
    graph: StreetGraph, pieces: list[Piece], profile: str, cost: float, *, figures_only: bool = False
) -> StreetRoute:
    """The route's GeoJSON line (``[lon, lat]``), figures and steps (only the figures if asked)."""
    coords: list[list[float]] = []
    length = exposure = unridden = separated = 0.0
    hazard_cells: dict[int, int] = {}
    steps: list[tuple[str | None, float, str]] = []
    heading: float | None = None
    for piece in pieces:
        s = piece.segment
        metres = piece.share * float(graph.seg_length_m[s])
        length += metres
        exposure += metres * float(graph.seg_danger[s]) / 100.0
        unridden += piece.share * float(graph.seg_unridden_m[s])
        separated += metres if graph.seg_separated[s] else 0.0
        hazard_cells.update(graph.seg_hazard_cells[s])
        if figures_only:
            continue
        x, y = _cut(graph.seg_lon[s], graph.seg_lat[s], piece.start, piece.end)
        xs, ys = x.tolist(), y.tolist()
        for lon, lat in zip(xs, ys, strict=True):
            point = [round(lon, 7), round(lat, 7)]
            if not coords or coords[-1] != point:
                coords.append(point)
        first, last = _end_bearings(xs, ys)
        name = graph.seg_name[s] or None
        if metres <= 0 or first is None:
            continue
        if not steps:
            steps.append((name, metres, "depart"))
        elif steps[-1][0] == name:
            steps[-1] = (name, steps[-1][1] + metres, steps[-1][2])
        else:
            steps.append((name, metres, turn_name(heading if heading is not None else first, first)))
        heading = last
    if len(coords) == 1:
        coords.append(list(coords[0]))
    elif not coords:
        s = pieces[0].segment
        lat, lon = graph.seg_lat[s][0], graph.seg_lon[s][0]
        coords = [[round(float(lon), 7), round(float(lat), 7)]] * 2
    end_name = steps[-1][0] if steps else None
    all_steps = (*(Step(n, round(d, 1), t) for n, d, t in steps), Step(end_name, 0.0, "arrive"))
    return StreetRoute(
        profile=profile,
        pieces=tuple(pieces),
        geometry={"type": "LineString", "coordinates": coords},
        length_m=length,
        danger_exposure=exposure,
        mean_danger=100.0 * exposure / length if length > 0 else 0.0,
        hazards_on_route=sum(hazard_cells.values()),
        unridden_m=unridden,
        separated_m=separated,
        cost=cost,
        steps=all_steps,
    )


@dataclass(frozen=True, slots=True)
class StreetComparison:
    """The chosen profile's route and the shortest one, as the cell router answers."""

    route: StreetRoute
    shortest: StreetRoute


def compare(
    graph: StreetGraph,
    from_lat: float,
    from_lon: float,
    to_lat: float,
    to_lon: float,
    profile: str,
    *,
    max_snap_m: float = DEFAULT_MAX_SNAP_M,
) -> StreetComparison:
    """What ``GET /routes/safe`` answers on streets: the profile's route and the shortest."""
    start = snap(graph, from_lat, from_lon, field="from", max_snap_m=max_snap_m)
    end = snap(graph, to_lat, to_lon, field="to", max_snap_m=max_snap_m)
    cost, pieces = search(graph, start, end, profile)
    chosen = describe(graph, pieces, profile, cost)
    if profile == "shortest":
        return StreetComparison(chosen, chosen)
    short_cost, short_pieces = search(graph, start, end, "shortest")
    return StreetComparison(chosen, describe(graph, short_pieces, "shortest", short_cost, figures_only=True))
