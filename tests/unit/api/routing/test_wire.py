"""One rendering of a route for the wire, whichever graph found it: the same figures, in the same order."""

from __future__ import annotations

import math

import msgspec
import numpy as np

from api.routing.wire import route_feature, route_figures
from geo.points import haversine_m
from geo.routing.search import compare as compare_cells
from geo.streets.graph import StreetGraph
from geo.streets.route import compare as compare_streets
from tests.unit.geo.routing.test_search import centre, hazard_city

FIGURES = ["lengthM", "dangerExposure", "meanDanger", "hazardsOnRoute", "unriddenM", "separatedM"]
LAT0, LON0 = 60.17, 24.94
M_LAT = 1 / 111_195.0
M_LON = M_LAT / math.cos(math.radians(LAT0))


def _street_line() -> StreetGraph:
    """Two 100 m segments east, the first on a cycle track, the second 40 % dangerous."""
    lons = [np.array([LON0 + x * M_LON, LON0 + (x + 100) * M_LON]) for x in (0, 100)]
    lats = [np.array([LAT0, LAT0]) for _ in lons]
    length = np.array([haversine_m(la[0], lo[0], la[1], lo[1]) for lo, la in zip(lons, lats, strict=True)])
    return StreetGraph.build(
        from_node=np.array([0, 1], dtype=np.int64),
        to_node=np.array([1, 2], dtype=np.int64),
        lons=lons,
        lats=lats,
        length_m=length,
        forward=np.array([True, True]),
        backward=np.array([True, True]),
        cost={p: length.copy() for p in ("safest", "balanced", "shortest", "child")},
        danger=np.array([0.0, 40.0]),
        separated=np.array([True, False]),
        unridden_m=np.array([0.0, 25.0]),
        hazard_cells=[(), ()],
        names=["Rantapolku", "Satamakatu"],
    )


def test_a_cell_route_has_no_separated_metres_and_its_fallback_is_unridden() -> None:
    graph, main, _ = hazard_city()
    found = compare_cells(graph, *centre(main[0]), *centre(main[10]), "shortest")
    figures = msgspec.to_builtins(route_figures(found.route))

    assert list(figures) == FIGURES
    assert figures["separatedM"] is None
    assert figures["unriddenM"] == round(found.route.fallback_m, 1)
    assert figures["lengthM"] == round(found.route.length_m, 1)
    assert figures["hazardsOnRoute"] == 1


def test_a_street_route_has_its_separated_metres_rounded_to_a_decimetre() -> None:
    found = compare_streets(_street_line(), LAT0, LON0, LAT0, LON0 + 200 * M_LON, "safest")
    figures = msgspec.to_builtins(route_figures(found.route))

    assert list(figures) == FIGURES
    assert math.isclose(figures["lengthM"], 200.0, abs_tol=0.2)
    assert math.isclose(figures["separatedM"], 100.0, abs_tol=0.1)
    assert math.isclose(figures["unriddenM"], 25.0, abs_tol=0.1)
    assert math.isclose(figures["dangerExposure"], 40.0, abs_tol=0.1)
    assert figures == {k: round(v, 1) if isinstance(v, float) else v for k, v in figures.items()}


def test_both_answers_have_one_shape_and_only_streets_have_steps() -> None:
    graph, main, _ = hazard_city()
    cells = msgspec.to_builtins(
        route_feature(compare_cells(graph, *centre(main[0]), *centre(main[10]), "safest"), "c1")
    )
    on_streets = compare_streets(_street_line(), LAT0, LON0, LAT0, LON0 + 200 * M_LON, "child")
    streets = msgspec.to_builtins(route_feature(on_streets, "s1"))

    keys = [*FIGURES, "profile", "shortest", "graphVersion", "network", "steps"]
    for answer in (cells, streets):
        assert list(answer) == ["type", "geometry", "properties"]
        assert list(answer["properties"]) == keys
        assert list(answer["properties"]["shortest"]) == FIGURES
    assert (cells["properties"]["network"], cells["properties"]["steps"]) == ("cells", [])
    assert cells["properties"]["shortest"]["hazardsOnRoute"] == 1
    assert cells["properties"]["hazardsOnRoute"] == 0
    assert cells["properties"]["graphVersion"] == "c1"
    assert streets["properties"]["network"] == "streets"
    assert streets["properties"]["profile"] == "child"
    assert [s["name"] for s in streets["properties"]["steps"]] == ["Rantapolku", "Satamakatu", "Satamakatu"]
    assert streets["geometry"]["coordinates"][0] == [LON0, LAT0]
