"""Read what the router needs from the database: the k-anonymous network, hazards, danger, the stamp.

The graph itself is built by the pure :class:`geo.routing.RoutingGraph`; this
module only loads its inputs (async, one session) and builds it (sync, meant to
run in a worker thread). The rules for ridden edges and open confirmed hazards
are in :mod:`domain.routing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from domain.danger.store import danger_scores
from domain.hazards.rules import ACTIVE_STATUSES
from domain.rides.tables import EXPOSURE_MODES
from domain.routing.rules import MIN_HAZARD_SUPPORT, Stamp
from geo.routing.graph import RoutingGraph

_RES_SHIFT: Final = 52
_MODES = [m.value for m in EXPOSURE_MODES]
_ACTIVE = [s.value for s in ACTIVE_STATUSES]

_RIDDEN_EDGES = sa.text(
    """
    SELECT least(from_cell, to_cell) AS a, greatest(from_cell, to_cell) AS b, sum(traversals) AS n
    FROM cell_transition
    WHERE mode = ANY(:modes) AND from_cell <> to_cell AND ((from_cell >> :shift) & 15) = :resolution
    GROUP BY 1, 2
    HAVING count(DISTINCT user_id) >= :k
    """
)

_CONFIRMED_HAZARDS = sa.text(
    """
    SELECT lat, lon FROM hazard
    WHERE status = ANY(:active)
      AND report_count + confirmation_count >= :support
      AND report_count + confirmation_count > dispute_count
    """
)

_STAMP = sa.text(
    """
    SELECT (SELECT count(*) FROM hazard) AS hazards,
           (SELECT max(updated_at) FROM hazard) AS hazards_changed,
           (SELECT max(created_at) FROM ride) AS latest_ride
    """
)

_NEW_RIDES = sa.text(
    "SELECT count(*) FROM (SELECT 1 FROM ride WHERE created_at > :since LIMIT :cap) AS recent"
)
_ANY_RIDES = sa.text("SELECT count(*) FROM (SELECT 1 FROM ride LIMIT :cap) AS recent")


@dataclass(frozen=True, slots=True)
class GraphInputs:
    """Everything :meth:`RoutingGraph.build` needs, read in one snapshot; cells are h3 strings."""

    stamp: Stamp
    edges: list[tuple[str, str, int]]
    danger: dict[str, float]
    hazards: dict[str, int]


async def read_stamp(session: AsyncSession) -> Stamp:
    """Three index-backed aggregates: cheap enough for every worker to read every few seconds."""
    row = (await session.execute(_STAMP)).one()
    return Stamp(hazards=int(row.hazards), hazards_changed=row.hazards_changed, latest_ride=row.latest_ride)


async def rides_since(session: AsyncSession, since: datetime | None, *, cap: int) -> int:
    """Rides stored after ``since`` (every ride when None), counted up to ``cap`` only."""
    if since is None:
        return int((await session.execute(_ANY_RIDES, {"cap": cap})).scalar_one())
    return int((await session.execute(_NEW_RIDES, {"since": since, "cap": cap})).scalar_one())


async def ridden_edges(session: AsyncSession, *, resolution: int, k: int) -> list[tuple[str, str, int]]:
    """Neighbouring cell pairs ridden (walk or bike, both ways) by at least ``k`` distinct people."""
    params = {"modes": _MODES, "shift": _RES_SHIFT, "resolution": resolution, "k": k}
    rows = await session.execute(_RIDDEN_EDGES, params)
    return [(h3.int_to_str(a), h3.int_to_str(b), int(n)) for a, b, n in rows]


async def confirmed_hazard_cells(session: AsyncSession, *, resolution: int) -> dict[str, int]:
    """Open confirmed hazards per cell, placed by their public point at the routing resolution."""
    params = {"active": _ACTIVE, "support": MIN_HAZARD_SUPPORT}
    out: dict[str, int] = {}
    for lat, lon in await session.execute(_CONFIRMED_HAZARDS, params):
        cell = h3.latlng_to_cell(lat, lon, resolution)
        out[cell] = out.get(cell, 0) + 1
    return out


async def load_inputs(session: AsyncSession, *, now: datetime, resolution: int, k: int) -> GraphInputs:
    """The stamp first, then the data, in one REPEATABLE READ snapshot so that they agree."""
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    stamp = await read_stamp(session)
    edges = await ridden_edges(session, resolution=resolution, k=k)
    hazards = await confirmed_hazard_cells(session, resolution=resolution)
    scores = await danger_scores(session, now=now, resolution=resolution, research_only=False)
    danger = {cell: s.score for cell, s in scores.items() if s.score > 0}
    return GraphInputs(stamp=stamp, edges=edges, danger=danger, hazards=hazards)


def build_graph(inputs: GraphInputs, *, resolution: int, built_at: datetime) -> RoutingGraph:
    """CPU-bound (about 1.5 s for 50k cells): call it in a worker thread, never on the event loop."""
    return RoutingGraph.build(
        inputs.edges,
        inputs.danger,
        inputs.hazards,
        resolution=resolution,
        version=inputs.stamp.version,
        built_at=built_at,
    )
