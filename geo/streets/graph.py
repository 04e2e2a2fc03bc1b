"""The street routing graph: junctions as nodes, bicycle-legal segment directions as edges.

Built once per worker from the segments of the imported network and one cost
per segment and profile (the caller's: ``domain.streets.rules`` decides the
weights, this module only searches). Nodes are the segments' end nodes; a
segment a bicycle may ride forward gives the edge ``from -> to``, backward
``to -> from``; a segment no bicycle may ride gives no edge and is never
snapped to. Only segments of the largest strongly connected part are snapped
to: a fragment cut off by the extract's border or by one-ways would strand a
route, so a point next to one goes to the nearest street of the main network.
Where several segments join the same two nodes in the same
direction, each profile keeps its cheapest one (CSR needs one entry per pair).

Positions are named ``lat``/``lon``; GeoJSON is ``[lon, lat]`` (RFC 7946).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import h3.api.basic_int as h3i
import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from shapely import STRtree

from geo.points import EARTH_RADIUS_M, BoolArray, FloatArray, haversine_array_m
from geo.streets.packed import Names, Ragged

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
SAMPLE_STEP_M = 10.0
"""Spacing of the points at which a segment's cells are read (:func:`cells_along`)."""


def cells_along(lons: FloatArray, lats: FloatArray, resolution: int) -> dict[int, float]:
    """The H3 cells (int form) a polyline passes through, with the metres it runs in each.

    The line is sampled about every :data:`SAMPLE_STEP_M` metres (at least once per
    part); each sample stands for the metres around it, so the figures add up to the
    line's length and are exact to one sample step per cell crossing.
    """
    step = haversine_array_m(lats[:-1], lons[:-1], lats[1:], lons[1:])
    out: dict[int, float] = {}
    for i, metres in enumerate(step.tolist()):
        parts = max(1, int(np.ceil(metres / SAMPLE_STEP_M)))
        share = metres / parts
        for k in range(parts):
            t = (k + 0.5) / parts
            lat = float(lats[i] + t * (lats[i + 1] - lats[i]))
            lon = float(lons[i] + t * (lons[i + 1] - lons[i]))
            cell = h3i.latlng_to_cell(lat, lon, resolution)
            out[cell] = out.get(cell, 0.0) + share
    return out


def local_xy(lon: FloatArray, lat: FloatArray, ref_lat: float) -> tuple[FloatArray, FloatArray]:
    """Equirectangular metres around ``ref_lat``: good to a fraction of a percent over a city."""
    k = EARTH_RADIUS_M * np.pi / 180.0
    return lon * k * np.cos(np.radians(ref_lat)), lat * k


@dataclass(frozen=True, slots=True)
class StreetGraph:
    """An immutable street graph, shared read-only by every request of a worker.

    Per segment ``s``: ``seg_from[s]``/``seg_to[s]`` node indices, its polyline
    ``seg_lon[s]``/``seg_lat[s]`` (views of one flat array each, :mod:`geo.streets.packed`, as are
    the names ``seg_name``), ``seg_length_m``, the bicycle's legal directions,
    ``seg_cost[p][s]`` (the whole segment's cost under profile ``p``; a part of it
    costs its share of the length), ``seg_danger`` (0-100) and per-segment figures the
    answer reports. The CSR (``indptr``, ``indices``) holds one entry per ordered node
    pair; ``weights[p]`` and ``entry_segment[p]`` give each profile's cheapest segment
    for it. ``min_rate[p]`` is the least cost per metre of any segment under ``p``: the
    A* bound is the straight line times it.
    """

    version: str
    profiles: tuple[str, ...]
    node_lat: FloatArray
    node_lon: FloatArray
    seg_from: Int32Array
    seg_to: Int32Array
    seg_lon: Ragged
    seg_lat: Ragged
    seg_length_m: FloatArray
    seg_forward: BoolArray
    seg_backward: BoolArray
    seg_cost: Mapping[str, FloatArray]
    seg_danger: FloatArray
    seg_separated: BoolArray
    seg_unridden_m: FloatArray
    seg_hazard_cells: Sequence[tuple[tuple[int, int], ...]]
    seg_name: Names
    indptr: Int32Array
    indices: Int32Array
    weights: Mapping[str, FloatArray]
    entry_segment: Mapping[str, Int32Array]
    min_rate: Mapping[str, float]
    ref_lat: float
    tree: STRtree
    tree_segments: Int32Array
    _xyz: FloatArray = dataclasses.field(repr=False)
    _degree: npt.NDArray[np.intp] = dataclasses.field(repr=False)

    @property
    def node_count(self) -> int:
        return int(self.node_lat.shape[0])

    @property
    def segment_count(self) -> int:
        return int(self.seg_length_m.shape[0])

    @classmethod
    def build(
        cls,
        *,
        from_node: IntArray,
        to_node: IntArray,
        lons: Sequence[FloatArray],
        lats: Sequence[FloatArray],
        length_m: FloatArray,
        forward: BoolArray,
        backward: BoolArray,
        cost: Mapping[str, FloatArray],
        danger: FloatArray,
        separated: BoolArray,
        unridden_m: FloatArray,
        hazard_cells: Sequence[tuple[tuple[int, int], ...]],
        names: Sequence[str | None],
        version: str = "",
    ) -> StreetGraph:
        """Build from per-segment columns; ``cost[p][s] >= length_m[s] > 0`` is not required, only
        ``cost >= 0``; the bound uses the least ``cost / length`` actually present."""
        n_seg = int(length_m.shape[0])
        osm_ids, inverse = np.unique(np.concatenate([from_node, to_node]), return_inverse=True)
        seg_from = inverse[:n_seg].astype(np.int32)
        seg_to = inverse[n_seg:].astype(np.int32)
        n = int(osm_ids.shape[0])
        node_lat = np.zeros(n)
        node_lon = np.zeros(n)
        seg_lon, seg_lat = Ragged.of(lons), Ragged.of(lats)
        node_lat[seg_from], node_lon[seg_from] = seg_lat.firsts, seg_lon.firsts
        node_lat[seg_to], node_lon[seg_to] = seg_lat.lasts, seg_lon.lasts

        usable = (forward | backward) & (seg_from != seg_to)
        fwd = np.flatnonzero(usable & forward)
        bwd = np.flatnonzero(usable & backward)
        rows = np.concatenate([seg_from[fwd], seg_to[bwd]]).astype(np.int64)
        cols = np.concatenate([seg_to[fwd], seg_from[bwd]]).astype(np.int64)
        segs = np.concatenate([fwd, bwd]).astype(np.int32)
        pair = rows * n + cols
        unique_pairs, pair_index = np.unique(pair, return_inverse=True)
        u_rows = (unique_pairs // max(n, 1)).astype(np.int32)
        indices = (unique_pairs % max(n, 1)).astype(np.int32)
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(u_rows, minlength=n), out=indptr[1:])

        profiles = tuple(cost)
        weights: dict[str, FloatArray] = {}
        entry_segment: dict[str, Int32Array] = {}
        min_rate: dict[str, float] = {}
        for profile in profiles:
            seg_w = np.asarray(cost[profile], dtype=np.float64)
            w = seg_w[segs]
            order = np.lexsort((w, pair_index))  # per pair, cheapest first
            first = np.ones(order.size, dtype=np.bool_)
            first[1:] = pair_index[order][1:] != pair_index[order][:-1]
            chosen = order[first]
            weights[profile] = w[chosen]
            entry_segment[profile] = segs[chosen]
            positive = usable & (length_m > 0)
            min_rate[profile] = float((seg_w[positive] / length_m[positive]).min()) if positive.any() else 1.0

        ref_lat = float(np.mean(node_lat)) if n else 0.0
        structure = csr_matrix((np.ones(indices.size), indices, indptr), shape=(n, n))
        _, label = connected_components(structure, directed=True, connection="strong")
        main = int(np.argmax(np.bincount(label))) if n else 0
        in_main = label == main
        legal = (forward | backward) & in_main[seg_from] & in_main[seg_to]
        snappable = np.flatnonzero(legal).astype(np.int32)
        lines = []
        for s in snappable.tolist():
            x, y = local_xy(seg_lon[s], seg_lat[s], ref_lat)
            lines.append(shapely.linestrings(np.stack([x, y], axis=1)))
        lat_r, lon_r = np.radians(node_lat), np.radians(node_lon)
        xyz = np.stack([np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)])
        return cls(
            version=version,
            profiles=profiles,
            node_lat=node_lat,
            node_lon=node_lon,
            seg_from=seg_from,
            seg_to=seg_to,
            seg_lon=seg_lon,
            seg_lat=seg_lat,
            seg_length_m=np.asarray(length_m, dtype=np.float64),
            seg_forward=np.asarray(forward, dtype=np.bool_),
            seg_backward=np.asarray(backward, dtype=np.bool_),
            seg_cost={p: np.asarray(c, dtype=np.float64) for p, c in cost.items()},
            seg_danger=np.asarray(danger, dtype=np.float64),
            seg_separated=np.asarray(separated, dtype=np.bool_),
            seg_unridden_m=np.asarray(unridden_m, dtype=np.float64),
            seg_hazard_cells=list(hazard_cells),
            seg_name=names if isinstance(names, Names) else Names(names),
            indptr=indptr,
            indices=indices,
            weights=weights,
            entry_segment=entry_segment,
            min_rate=min_rate,
            ref_lat=ref_lat,
            tree=STRtree(lines),
            tree_segments=snappable,
            _xyz=xyz * EARTH_RADIUS_M,
            _degree=np.diff(indptr).astype(np.intp),
        )

    def chord_m(self, lat: float, lon: float) -> FloatArray:
        """Straight-line (chord) metres from every node to a point: never longer than any path."""
        lat_r, lon_r = np.radians(lat), np.radians(lon)
        point = np.array([np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)])
        delta = self._xyz - (point * EARTH_RADIUS_M)[:, None]
        out: FloatArray = np.sqrt(np.einsum("ij,ij->j", delta, delta))
        return out
