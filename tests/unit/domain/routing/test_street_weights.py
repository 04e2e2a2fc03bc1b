"""A street segment's danger: its cells' released danger, length-weighted, joined with its prior."""

from __future__ import annotations

from datetime import UTC, date, datetime

import h3
import numpy as np
import pytest

from domain.routing.rules import Stamp
from domain.routing.store import GraphInputs
from domain.routing.streets import build_street_graph, segment_cells
from domain.streets.rules import combined_danger, prior_danger
from domain.streets.store import NetworkInfo, Segments

LAT, LON = 51.0259, 4.4776
M_LON = 1 / 111_195.0 / np.cos(np.radians(LAT))


def _segments(infra: list[str], speeds: list[int | None]) -> Segments:
    """Two 400 m segments eastwards, one after the other."""
    n = len(infra)
    lons = [np.array([LON + 400 * i * M_LON, LON + 400 * (i + 1) * M_LON]) for i in range(n)]
    lats = [np.array([LAT, LAT]) for _ in range(n)]
    info = NetworkInfo(7, "test", datetime(2026, 12, 1, tzinfo=UTC), n, n, 400.0 * n)
    return Segments(
        network=info,
        way_id=np.arange(n, dtype=np.int64),
        from_node=np.arange(n, dtype=np.int64),
        to_node=np.arange(1, n + 1, dtype=np.int64),
        lons=lons,
        lats=lats,
        length_m=np.array([400.0] * n),
        name=["A"] * n,
        highway=["residential"] * n,
        bicycle_forward=np.ones(n, dtype=np.bool_),
        bicycle_backward=np.ones(n, dtype=np.bool_),
        foot=np.ones(n, dtype=np.bool_),
        infrastructure=infra,
        maxspeed_kmh=speeds,
        surface=[None] * n,
        lit=[None] * n,
    )


def _inputs(danger: dict[str, float], edges: list[tuple[str, str, int]]) -> GraphInputs:
    return GraphInputs(Stamp(0, None, date(2026, 11, 1), 7), edges, danger, {})


def test_an_unridden_street_costs_its_prior_and_counts_as_unridden() -> None:
    segs = _segments(["none", "separated"], [50, None])
    graph = build_street_graph(_inputs({}, []), segment_cells(segs, 10))
    assert graph.seg_danger.tolist() == pytest.approx(
        [prior_danger("none", 50), prior_danger("separated", None)]
    )
    assert graph.seg_unridden_m.tolist() == pytest.approx([400.0, 400.0])
    assert graph.seg_cost["shortest"].tolist() == pytest.approx([400.0, 400.0])
    assert graph.seg_cost["safest"][0] > graph.seg_cost["safest"][1]
    assert graph.seg_cost["child"][0] > 20 * graph.seg_cost["safest"][0]


def test_the_released_danger_of_the_cells_is_weighted_by_the_metres_in_each() -> None:
    segs = _segments(["shared_quiet"], [30])
    network = segment_cells(segs, 10)
    metres = {h3.int_to_str(c): m for c, m in network.cells[0].items()}
    hot = max(metres, key=lambda c: metres[c])
    graph = build_street_graph(_inputs({hot: 80.0}, [(hot, hot, 1)]), network)
    measured = 80.0 * metres[hot] / sum(metres.values())
    assert graph.seg_danger[0] == pytest.approx(combined_danger(prior_danger("shared_quiet", 30), measured))
    assert graph.seg_unridden_m[0] == pytest.approx(400.0 - 400.0 * metres[hot] / sum(metres.values()), abs=1)
