"""The H3 cell routing graph: built once per worker from the aggregates, weighted per profile.

Nodes are cells at one resolution (10 by default: ~130 m between centres).
Edges join H3 neighbours. An edge cyclists have really ridden (a transition
aggregate, so paths no map shows count too) costs its length; the plain grid
adjacency between any two neighbouring cells of the service area is kept as a
*fallback* at ``fallback_penalty`` times the length, so a route exists between
any two points of one connected service area, while preferring the network as
people ride it.

One profile is one value of ``lam = max_multiplier - 1`` (shortest 0, balanced
0.7, safest 2) in the edge weight::

    w(u, v) = length * fallback * (1 + lam * danger(u, v) / 100) + lam * surcharge(u, v)

``danger(u, v)`` is the mean of the two cells' 0-100 scores (half of the
segment between two centres lies in each cell); ``surcharge`` is the mean of
the two cells' ``hazard_cost_m * min(open confirmed hazards, hazard_cap)``.
Every weight lies between ``length`` and ``length * fallback * max_multiplier
+ 2 * hazard_cost_m * hazard_cap``: bounded both ways, which is what keeps the
A* search below narrow. Because the profiles form a one-parameter family in
``lam``, a safer profile never yields a shorter (penalised) route nor a more
exposed one than a less safe profile.

Positions are named ``lat``/``lon``; GeoJSON is ``[lon, lat]`` (RFC 7946).
Nothing here reads the clock: ``version`` and ``built_at`` are the caller's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import h3
import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3_int
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from geo.errors import FieldError
from geo.points import EARTH_RADIUS_M, BoolArray, FloatArray, haversine_array_m

Profile = Literal["shortest", "balanced", "safest"]
PROFILES: tuple[Profile, ...] = get_args(Profile)
MAX_MULTIPLIER: Mapping[Profile, float] = {"shortest": 1.0, "balanced": 1.7, "safest": 3.0}
"""The danger multiplier at danger 100; at danger 0 every profile pays the plain length."""


Int32Array = npt.NDArray[np.int32]


class RoutingError(FieldError):
    """A route request cannot be answered; ``field`` names the parameter at fault."""


class OutsideServiceArea(RoutingError):
    """``from`` or ``to`` is farther than the snap distance from every graph cell (maps to 422)."""


class Unreachable(RoutingError):
    """Both points are in the service area, but in parts no edge joins (maps to 422, docs/routing.md)."""


class UnknownProfile(RoutingError):
    """The profile is not one of :data:`PROFILES`."""


@dataclass(frozen=True, slots=True)
class RoutingGraph:
    """An immutable routing graph: shared read-only by every request of a worker.

    Edges are stored once as a CSR structure (``indptr``, ``indices``, both
    directions, neighbours sorted) with one weight array per profile in the same
    entry order, so the three profiles share the structure. ``component`` labels
    the connected parts, so that an unreachable pair is refused without a search.
    """

    version: str
    built_at: datetime | None
    resolution: int
    cells: tuple[str, ...]
    index: Mapping[str, int]
    lat: FloatArray
    lon: FloatArray
    danger: FloatArray
    hazards: Int32Array
    indptr: Int32Array
    indices: Int32Array
    entry_row: Int32Array
    entry_length_m: FloatArray
    entry_fallback: BoolArray
    weights: Mapping[Profile, FloatArray]
    component: Int32Array
    traversed_edges: int
    fallback_edges: int
    max_degree: int
    landmark_component: int
    landmark_dist: Mapping[Profile, FloatArray]
    _xyz: FloatArray = dataclasses.field(repr=False)
    _cols: npt.NDArray[np.intp] = dataclasses.field(repr=False)
    _degree: npt.NDArray[np.intp] = dataclasses.field(repr=False)

    @classmethod
    def build(
        cls,
        transitions: Iterable[tuple[str, str, int]],
        cell_danger: Mapping[str, float],
        hazard_cells: Mapping[str, int],
        *,
        resolution: int = 10,
        service_area_cells: Iterable[str] | None = None,
        margin_rings: int = 2,
        min_count: int = 1,
        fallback_penalty: float = 4.0,
        hazard_cost_m: float = 150.0,
        hazard_cap: int = 3,
        landmarks: int = 8,
        version: str = "",
        built_at: datetime | None = None,
    ) -> RoutingGraph:
        """Build the graph from the aggregates.

        ``transitions`` are ``(from_cell, to_cell, count)``; both directions of a
        pair add up and a pair ridden at least ``min_count`` times becomes a
        two-way edge (most Flemish one-way streets are two-way for cyclists, and
        a route drawn against a one-way is still a better hint than none).
        Pairs that are not H3 neighbours, or leave the service area, are ignored.
        Without ``service_area_cells`` the area is every traversed cell plus
        ``margin_rings`` rings around it, so that points just off the ridden
        network still snap; far-apart networks stay separate parts.
        ``version`` is the caller's stamp of the aggregates (the DB layer
        rebuilds when it changes); ``built_at`` is the caller's clock.
        """
        if fallback_penalty < 1.0 or hazard_cost_m < 0 or hazard_cap < 0 or min_count < 1:
            raise ValueError("fallback_penalty >= 1, hazard_cost_m >= 0, hazard_cap >= 0, min_count >= 1")
        counts: dict[tuple[str, str], int] = {}
        for a, b, n in transitions:
            if a != b:
                key = (a, b) if a < b else (b, a)
                counts[key] = counts.get(key, 0) + int(n)
        ridden = [k for k, n in counts.items() if n >= min_count]

        if service_area_cells is not None:
            area = set(service_area_cells)
        else:
            area = set()
            for cell in {c for pair in ridden for c in pair}:
                area.update(h3.grid_disk(cell, margin_rings))
        if any(h3.get_resolution(c) != resolution for c in area):
            raise ValueError(f"every cell must be at resolution {resolution}")
        cells = tuple(sorted(area))
        index = {c: i for i, c in enumerate(cells)}
        n = len(cells)

        traversed = {
            (index[a], index[b])
            for a, b in ridden
            if a in index and b in index and h3.are_neighbor_cells(a, b)
        }
        by_int = {h3.str_to_int(c): i for i, c in enumerate(cells)}
        grid: list[tuple[int, int]] = []
        for h, i in by_int.items():  # the int API skips a string conversion per neighbour
            for nb in h3_int.grid_disk(h, 1):
                j = by_int.get(nb, -1)
                if j > i and (i, j) not in traversed:
                    grid.append((i, j))
        pairs = [*traversed, *grid]
        u = np.fromiter((p[0] for p in pairs), dtype=np.int32, count=len(pairs))
        v = np.fromiter((p[1] for p in pairs), dtype=np.int32, count=len(pairs))
        is_fallback = np.zeros(len(pairs), dtype=np.bool_)
        is_fallback[len(traversed) :] = True

        centres = [h3.cell_to_latlng(c) for c in cells]
        lat = np.fromiter((c[0] for c in centres), dtype=np.float64, count=n)
        lon = np.fromiter((c[1] for c in centres), dtype=np.float64, count=n)
        danger = np.clip(np.fromiter((cell_danger.get(c, 0.0) for c in cells), np.float64, n), 0, 100)
        hazards = np.maximum(np.fromiter((hazard_cells.get(c, 0) for c in cells), np.int32, n), 0)

        rows = np.concatenate([u, v])
        cols = np.concatenate([v, u])
        order = np.lexsort((cols, rows))
        edge_of_entry = np.concatenate([np.arange(len(pairs)), np.arange(len(pairs))])[order]
        indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        length_m = haversine_array_m(lat[u], lon[u], lat[v], lon[v])
        edge_danger = (danger[u] + danger[v]) / 2.0
        capped = np.minimum(hazards, hazard_cap)
        surcharge = hazard_cost_m * (capped[u] + capped[v]) / 2.0
        base = length_m * np.where(is_fallback, fallback_penalty, 1.0)
        weights: dict[Profile, FloatArray] = {}
        for profile in PROFILES:
            lam = MAX_MULTIPLIER[profile] - 1.0
            weights[profile] = (base * (1.0 + lam * edge_danger / 100.0) + lam * surcharge)[edge_of_entry]

        indices = cols[order].astype(np.int32)
        structure = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n, n))
        _, component = connected_components(structure, directed=False)
        degree = np.diff(indptr)
        main, marks = _pick_landmarks(
            csr_matrix((weights["shortest"], indices, indptr), shape=(n, n)), component, landmarks
        )
        landmark_dist: dict[Profile, FloatArray] = {p: np.zeros((0, n)) for p in PROFILES}
        for profile in PROFILES if marks.size else ():
            dist = dijkstra(csr_matrix((weights[profile], indices, indptr), shape=(n, n)), indices=marks)
            landmark_dist[profile] = np.where(np.isfinite(dist), dist, 0.0).reshape(len(marks), n)
        return cls(
            version=version,
            built_at=built_at,
            resolution=resolution,
            cells=cells,
            index=index,
            lat=lat,
            lon=lon,
            danger=danger,
            hazards=hazards,
            indptr=indptr,
            indices=indices,
            entry_row=rows[order].astype(np.int32),
            entry_length_m=length_m[edge_of_entry],
            entry_fallback=is_fallback[edge_of_entry],
            weights=weights,
            component=component.astype(np.int32),
            traversed_edges=len(traversed),
            fallback_edges=len(grid),
            max_degree=int(degree.max()) if n else 0,
            landmark_component=main,
            landmark_dist=landmark_dist,
            _xyz=_unit_vectors(lat, lon) * EARTH_RADIUS_M,
            _cols=indices.astype(np.intp),
            _degree=degree.astype(np.intp),
        )

    @property
    def nbytes(self) -> int:
        """Bytes held in the numpy arrays (the cell strings and index dict come on top)."""
        arrays: list[npt.NDArray[Any]] = [self.lat, self.lon, self.danger, self.hazards, self.indptr]
        arrays += [self.indices, self.entry_row, self.entry_length_m, self.entry_fallback, self.component]
        arrays += [self._xyz, self._cols, self._degree, *self.weights.values(), *self.landmark_dist.values()]
        return sum(int(a.nbytes) for a in arrays)

    def matrix(self, profile: Profile) -> csr_matrix:
        """The profile's weights as a CSR matrix (``[i, j]`` = cost of stepping from cell i to j)."""
        return csr_matrix((self.weights[profile], self.indices, self.indptr), shape=(len(self.cells),) * 2)

    def heuristic_m(self, target: int, profile: Profile) -> FloatArray:
        """A lower bound of every cell's cost to ``target``: the A* potential.

        The larger of the chord to the target (a chord is never longer than the
        arc, and no step costs less than its arc) and, in the landmarks' part,
        the ALT bound ``|d(L, target) - d(L, cell)|``; both are consistent, so
        the reduced costs stay non-negative and the first path found is optimal.
        """
        delta = self._xyz - self._xyz[:, target : target + 1]
        h: FloatArray = np.sqrt(np.einsum("ij,ij->j", delta, delta))
        if self.component[target] == self.landmark_component:
            bound = np.empty_like(h)
            for row in self.landmark_dist[profile]:
                np.subtract(row, row[target], out=bound)
                np.abs(bound, out=bound)
                np.maximum(h, bound, out=h)
        return h


def _unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    lat_r, lon_r = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)])


def _pick_landmarks(
    matrix: csr_matrix, component: npt.NDArray[np.int32], count: int
) -> tuple[int, npt.NDArray[np.intp]]:
    """Farthest-point landmarks in the largest part (by shortest-profile cost).

    Landmarks on the rim make ``|d(L, t) - d(L, v)|`` tight for most pairs; the
    smaller parts (islands) fall back on the chord alone.
    """
    if component.size == 0 or count < 1:
        return -1, np.zeros(0, dtype=np.intp)
    main = int(np.argmax(np.bincount(component)))
    members = component == main
    first = int(np.flatnonzero(members)[0])
    marks: list[int] = []
    reach = dijkstra(matrix, indices=first)
    while len(marks) < count:
        far = np.where(members & np.isfinite(reach), reach, -1.0)
        nxt = int(np.argmax(far))
        if far[nxt] <= 0 and marks:
            break
        marks.append(nxt)
        reach = dijkstra(matrix, indices=marks, min_only=True)
    return main, np.asarray(marks, dtype=np.intp)
