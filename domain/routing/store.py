"""Read what the router needs: the released network and danger, the public hazards, the stamp.

The graph itself is built by the pure :class:`geo.routing.RoutingGraph`; this
module only loads its inputs (async, one session) and builds it (sync, meant to
run in a worker thread). The rules for ridden edges and open confirmed hazards
are in :mod:`domain.routing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

import h3
import h3.api.basic_int as h3i
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from domain.danger.store import active_hazards, danger_scores, released_inputs
from domain.hazards.rules import ACTIVE_STATUSES
from domain.rides.tables import EXPOSURE_MODES
from domain.routing.rules import MIN_HAZARD_SUPPORT, Stamp
from geo.routing.graph import RoutingGraph
from privacy.release.mechanism import Released
from privacy.release.rules import ReleasePolicy, last_closed_month
from privacy.release.service import obtain
from privacy.release.tables import Dataset

_RES_SHIFT: Final = 52
_MODES = [m.value for m in EXPOSURE_MODES]
_ACTIVE = [s.value for s in ACTIVE_STATUSES]

_CONFIRMED_HAZARDS = sa.text(
    """
    SELECT lat, lon FROM hazard
    WHERE status = ANY(:active)
      AND report_count + confirmation_count >= :support
      AND report_count + confirmation_count > dispute_count
    """
)

_STAMP = sa.text(
    "SELECT count(*) AS hazards, max(updated_at) AS hazards_changed, "
    "(SELECT max(id) FROM street_network) AS streets FROM hazard"
)


@dataclass(frozen=True, slots=True)
class GraphInputs:
    """Everything :meth:`RoutingGraph.build` needs, read in one snapshot; cells are h3 strings."""

    stamp: Stamp
    edges: list[tuple[str, str, int]]
    danger: dict[str, float]
    hazards: dict[str, int]


async def read_stamp(session: AsyncSession, *, today: date) -> Stamp:
    """Three index-backed aggregates and the month released: cheap enough to read every few seconds."""
    row = (await session.execute(_STAMP)).one()
    month = last_closed_month(today).first
    streets = None if row.streets is None else int(row.streets)
    return Stamp(
        hazards=int(row.hazards), hazards_changed=row.hazards_changed, released_month=month, streets=streets
    )


def released_edges(released: Mapping[int, Released], resolution: int) -> list[tuple[str, str, int]]:
    """Neighbouring cells at ``resolution`` inside the cells the release shows people riding.

    Pure post-processing of the release: the router treats the area people are
    shown to ride as its network and the rest of the service area as the
    fallback grid. No path of a few people can show here: a release shows no
    cell fewer than its threshold's worth of people rode.
    """
    area = {int(c) for parent in released for c in h3i.cell_to_children(parent, resolution)}
    pairs = {(min(a, b), max(a, b)) for a in area for b in h3i.grid_ring(a, 1) if b in area}
    return [(h3.int_to_str(a), h3.int_to_str(b), 1) for a, b in sorted(pairs)]


async def confirmed_hazard_cells(session: AsyncSession, *, resolution: int) -> dict[str, int]:
    """Open confirmed hazards per cell, placed by their public point at the routing resolution."""
    params = {"active": _ACTIVE, "support": MIN_HAZARD_SUPPORT}
    out: dict[str, int] = {}
    for lat, lon in await session.execute(_CONFIRMED_HAZARDS, params):
        cell = h3.latlng_to_cell(lat, lon, resolution)
        out[cell] = out.get(cell, 0) + 1
    return out


async def load_inputs(
    session: AsyncSession, *, now: datetime, resolution: int, policy: ReleasePolicy
) -> GraphInputs:
    """The last month's release (made now if it never was), then, in one REPEATABLE READ snapshot, the
    stamp and the public hazards, so that they agree."""
    served = await obtain(session, Dataset.CELLS, last_closed_month(now.date()), policy, now=now)
    released = served.cells()
    await session.commit()
    await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    stamp = await read_stamp(session, today=now.date())
    hazards = await confirmed_hazard_cells(session, resolution=resolution)
    public = await active_hazards(session, resolution=resolution)
    scores = danger_scores(released_inputs(released, public, max(resolution, policy.resolution)), now)
    danger = {cell: s.score for cell, s in scores.items() if s.score > 0}
    edges = released_edges(released, resolution)
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
