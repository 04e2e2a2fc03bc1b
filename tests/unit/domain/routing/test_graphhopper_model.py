"""The GraphHopper custom model export: it parses as GraphHopper's documented format and means our rules."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import h3
import jsonschema
import pytest
from shapely.geometry import Point, shape

from domain.routing.graphhopper import (
    AREA_MIN_DANGER,
    MAX_AREAS,
    ROAD_CLASSES,
    class_prior,
    custom_model,
)
from domain.streets.rules import CHILD_FAST_FACTOR, PROFILES, Profile

SCHEMA_PATH = Path(__file__).parents[3] / "data" / "graphhopper" / "custom-model.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
CENTRE = h3.latlng_to_cell(51.0259, 4.4776, 10)
_TOKEN = re.compile(r"\s*(\(|\)|&&|\|\||==|!=|>=|<=|>|<|!|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?)")
ENCODED = {"road_class", "max_speed"}


def danger_map() -> dict[str, float]:
    """A dangerous junction (90) in a ring of 60s, a lone 80 further off, and quiet cells around."""
    danger = dict.fromkeys(h3.grid_disk(CENTRE, 4), 10.0)
    danger |= dict.fromkeys(h3.grid_disk(CENTRE, 2), 60.0)
    danger[CENTRE] = 90.0
    far = h3.grid_ring(CENTRE, 9)[0]
    danger[far] = 80.0
    return danger


def identifiers(condition: str) -> set[str]:
    """The names a condition uses, after checking it is made of GraphHopper's expression tokens only."""
    names: set[str] = set()
    position = 0
    while position < len(condition):
        match = _TOKEN.match(condition, position)
        assert match is not None, f"unexpected text in {condition!r} at {position}"
        token = match.group(1)
        if re.match(r"[A-Za-z_]", token):
            names.add(token)
        position = match.end()
    return names


def statements(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [*model.get("priority", []), *model.get("speed", [])]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_model_is_a_valid_graphhopper_custom_model(profile: Profile) -> None:
    model, areas = custom_model(danger_map(), profile)
    jsonschema.validate(model, SCHEMA)
    ids = {f["id"] for f in model.get("areas", {}).get("features", [])}
    assert len(ids) == areas
    used: set[str] = set()
    known = ENCODED | {f"in_{i}" for i in ids} | set(ROAD_CLASSES) | {"true", "false"}
    rules = statements(model)
    for n, statement in enumerate(rules):
        condition = statement.get("if", statement.get("else_if"))
        if "else_if" in statement:
            assert n > 0 and ("if" in rules[n - 1] or "else_if" in rules[n - 1])
        names = identifiers(condition)
        assert names <= known, names - known
        used |= {name[3:] for name in names if name.startswith("in_")}
        assert 0 < float(statement["multiply_by"]) <= 1, statement  # GraphHopper's priority range
    assert used == ids, "every area is used by a rule, every rule's area exists"


def test_the_areas_are_valid_closed_geojson_polygons_over_the_dangerous_cells() -> None:
    danger = danger_map()
    model, _ = custom_model(danger, "safest")
    features = model["areas"]["features"]
    assert 2 <= len(features) <= MAX_AREAS
    polygons = [shape(f["geometry"]) for f in features]
    for feature, polygon in zip(features, polygons, strict=True):
        for ring in feature["geometry"]["coordinates"]:
            assert ring[0] == ring[-1] and len(ring) >= 4
        assert polygon.is_valid and polygon.area > 0, feature["id"]
        lon, lat = feature["geometry"]["coordinates"][0][0]
        assert 4.4 < lon < 4.6 and 50.9 < lat < 51.1, "GeoJSON order: [lon, lat]"
    for cell, value in danger.items():
        lat, lon = h3.cell_to_latlng(cell)
        inside = sum(p.contains(Point(lon, lat)) for p in polygons)
        assert inside == (1 if value >= AREA_MIN_DANGER else 0), (cell, value, inside)


def test_a_more_dangerous_area_and_a_louder_road_class_weigh_more() -> None:
    model, _ = custom_model(danger_map(), "safest")
    factor = {s.get("if", s.get("else_if")): float(s["multiply_by"]) for s in model["priority"]}
    junction = next(v for k, v in factor.items() if k.startswith("in_danger75"))
    ring = next(v for k, v in factor.items() if k.startswith("in_danger50"))
    assert junction < ring < 1
    primary = next(v for k, v in factor.items() if "road_class == PRIMARY" in k and "max_speed" not in k)
    residential = next(v for k, v in factor.items() if k.startswith("road_class") and "RESIDENTIAL" in k)
    assert primary < residential < 1
    assert not any("CYCLEWAY" in k and "!=" not in k for k in factor), "a cycle track keeps priority 1"
    assert (
        class_prior("cycleway") < class_prior("residential") < class_prior("primary") < class_prior("trunk")
    )


def test_only_the_child_profile_shuns_fast_streets_and_shortest_ignores_danger() -> None:
    child, _ = custom_model(danger_map(), "child")
    safest, _ = custom_model(danger_map(), "safest")
    shortest, areas = custom_model(danger_map(), "shortest")
    fast = f"{1 / CHILD_FAST_FACTOR:g}"
    assert any(s["multiply_by"] == fast for s in child["priority"])
    assert not any(s["multiply_by"] == fast for s in safest["priority"])
    assert shortest["priority"] == [] and areas == 0 and "areas" not in shortest
    assert shortest["distance_influence"] > safest["distance_influence"] > child["distance_influence"]


def test_without_dangerous_cells_there_are_no_areas() -> None:
    model, areas = custom_model(dict.fromkeys(h3.grid_disk(CENTRE, 3), AREA_MIN_DANGER - 1), "safest")
    assert areas == 0 and "areas" not in model
    jsonschema.validate(model, SCHEMA)


def test_the_schema_refuses_what_graphhopper_refuses() -> None:
    good = {"if": "road_class == PRIMARY", "multiply_by": "0.5"}
    jsonschema.validate({"priority": [good]}, SCHEMA)
    bad_area = {"type": "Feature", "id": "a-b", "geometry": {"type": "Polygon", "coordinates": []}}
    for bad in (
        {"priority": [{"if": "true", "else": "", "multiply_by": "0.5"}]},
        {"priority": [{"if": "true"}]},
        {"priority": [{"if": "true", "multiply_by": "0.5", "limit_to": "3"}]},
        {"priority": [good], "description": "unknown key"},
        {"areas": {"type": "FeatureCollection", "features": [bad_area]}},
        {"areas": {"custom1": {"type": "Feature", "geometry": {}}}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)
