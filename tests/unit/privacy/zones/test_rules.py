"""Privacy zones remove every trace of a ride inside them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.points import Columns, TracePoint, haversine_array_m
from privacy.zones.rules import ZoneError, in_any_zone, make_zone, outside_zones


def line(n: int = 200) -> Columns:
    return Columns.from_points([TracePoint(51.03, 4.47 + i * 10 / 70_000, float(i)) for i in range(n)])


def test_fixes_inside_any_zone_are_removed() -> None:
    cols = line()
    zones = [make_zone(51.03, 4.48, 100.0), make_zone(51.03, 4.49, 60.0)]
    keep = outside_zones(cols, zones)
    for zone in zones:
        assert np.all(haversine_array_m(zone.lat, zone.lon, cols.lat[keep], cols.lon[keep]) > zone.radius_m)
    assert (~keep).sum() > 20


def test_no_zone_keeps_everything() -> None:
    assert outside_zones(line(), []).all()


def test_in_any_zone_checks_every_zone() -> None:
    zones = [make_zone(51.0, 4.0, 100.0), make_zone(51.03, 4.48, 100.0)]
    assert in_any_zone(51.0302, 4.4801, zones)
    assert not in_any_zone(51.05, 4.48, zones)


@pytest.mark.parametrize(
    ("lat", "lon", "radius", "field"),
    [
        (91.0, 4.0, 100.0, "lat"),
        (51.0, -181.0, 100.0, "lon"),
        (51.0, 4.0, 49.0, "radiusM"),
        (51.0, 4.0, 2001.0, "radiusM"),
        (51.0, 4.0, math.nan, "radiusM"),
        (math.inf, 4.0, 100.0, "lat"),
    ],
)
def test_invalid_zone_is_rejected_naming_the_field(lat: float, lon: float, radius: float, field: str) -> None:
    with pytest.raises(ZoneError) as err:
        make_zone(lat, lon, radius)
    assert err.value.field == field
