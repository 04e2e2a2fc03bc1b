"""The street graph's inputs and build: segments from the imported network, danger from the release.

Each segment takes the danger of the H3 cells it passes through, weighted by
the metres it runs in each (:func:`geo.streets.graph.cells_along`), joined with
its infrastructure prior (:func:`domain.streets.rules.combined_danger`). The
cell danger is the one the cell router uses (``GraphInputs.danger``: the last
month's differentially private release and the public hazards), never rides.
The cells a segment runs through depend only on the network, so they are
computed once per imported network (:class:`SegmentCells`) and reused for every
release.
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import numpy as np

from domain.routing.store import GraphInputs
from domain.streets.rules import (
    PROFILES,
    Infrastructure,
    child_avoids,
    combined_danger,
    prior_danger,
    segment_cost,
)
from domain.streets.store import Segments
from geo.points import FloatArray
from geo.streets.graph import StreetGraph, cells_along
from geo.streets.packed import Runs


@dataclass(frozen=True, slots=True)
class SegmentCells:
    """Per segment, the cells (int form) it runs through and the metres in each: the network's part.

    Packed (:class:`geo.streets.packed.Runs`): a worker keeps them for as long as the network, and a
    dict per segment would cost about 300 bytes a segment, a gigabyte for a country."""

    network_id: int
    resolution: int
    segments: Segments
    cells: Runs


def segment_cells(segments: Segments, resolution: int) -> SegmentCells:
    """CPU-bound (about 10 µs per 10 m of street): run it in a worker thread."""
    cells = Runs(
        cells_along(lon, lat, resolution) for lon, lat in zip(segments.lons, segments.lats, strict=True)
    )
    return SegmentCells(segments.network.id, resolution, segments, cells)


def build_street_graph(inputs: GraphInputs, network: SegmentCells) -> StreetGraph:
    """Weights per profile from the release's danger and the tags' priors; CPU-bound, for a thread."""
    seg = network.segments
    danger_by_cell = {h3.str_to_int(c): d for c, d in inputs.danger.items()}
    hazards_by_cell = {h3.str_to_int(c): n for c, n in inputs.hazards.items()}
    released = {h3.str_to_int(c) for a, b, _ in inputs.edges for c in (a, b)}
    n = len(seg.length_m)
    danger = np.zeros(n)
    unridden = np.zeros(n)
    hazard_cells: list[tuple[tuple[int, int], ...]] = []
    costs: dict[str, FloatArray] = {p: np.zeros(n) for p in PROFILES}
    separated = np.fromiter(
        (i == Infrastructure.SEPARATED.value for i in seg.infrastructure), dtype=np.bool_, count=n
    )
    for s, cells in enumerate(network.cells):
        run = sum(cells.values()) or 1.0
        measured = sum(m * danger_by_cell.get(c, 0.0) for c, m in cells.items()) / run
        prior = prior_danger(seg.infrastructure[s], seg.maxspeed_kmh[s])
        danger[s] = combined_danger(prior, measured)
        unridden[s] = seg.length_m[s] * sum(m for c, m in cells.items() if c not in released) / run
        touched = tuple((c, hazards_by_cell[c]) for c in cells if c in hazards_by_cell)
        hazard_cells.append(touched)
        avoided = child_avoids(seg.infrastructure[s], seg.maxspeed_kmh[s])
        hazards = sum(k for _, k in touched)
        for profile in PROFILES:
            costs[profile][s] = segment_cost(
                profile, float(seg.length_m[s]), danger[s], hazards, child_avoided=avoided
            )
    return StreetGraph.build(
        from_node=seg.from_node,
        to_node=seg.to_node,
        lons=seg.lons,
        lats=seg.lats,
        length_m=seg.length_m,
        forward=seg.bicycle_forward,
        backward=seg.bicycle_backward,
        cost=costs,
        danger=danger,
        separated=separated,
        unridden_m=unridden,
        hazard_cells=hazard_cells,
        names=seg.name,
        version=inputs.stamp.version,
    )
