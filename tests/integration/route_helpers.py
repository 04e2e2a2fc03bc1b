"""A small hand-built city for the routing tests: one street through a junction, and a detour around it.

In local IJ coordinates around a cell in Mechelen (res 10, ~130 m between centres)::

    main street  (0,0) (1,0) ... (8,0), the junction J = (4,0) in the middle
    detour       (3,0) -> (4,1) -> (5,1) -> (5,0): one step (~130 m) longer than through J

Rides are written straight into the aggregates (per user, in the last whole
month, as ride ingest would have), so the test decides exactly who rode what;
the router reads them through that month's release (tests/integration/routing
run with a policy that bounds a person to 16 cells: threshold 17, sigma 2.9).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import date

import h3
import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.routing.service import GraphCache
from tests.integration.conftest import Account
from tests.integration.planner_helpers import LAST_MONTH, Seed

Client = AsyncTestClient[Litestar]
ORIGIN = h3.latlng_to_cell(51.0259, 4.4776, 10)
_I0, _J0 = h3.cell_to_local_ij(ORIGIN, ORIGIN)


def at(i: int, j: int = 0) -> str:
    cell: str = h3.local_ij_to_cell(ORIGIN, _I0 + i, _J0 + j)
    return cell


MAIN = [at(i) for i in range(9)]
JUNCTION = at(4)
DETOUR = [at(3), at(4, 1), at(5, 1), at(5)]
START, END = MAIN[0], MAIN[-1]
SIDE = [at(6), at(6, -1), at(6, -2), at(6, -3)]
"""A lane off the main street, away from the detour; its end lies beyond the area's 2-ring margin."""
ISLAND = [h3.local_ij_to_cell(ORIGIN, _I0 + 60 + i, _J0) for i in range(4)]
"""A street ~8 km away that no edge joins to the city."""


def position(cell: str) -> str:
    """``lat,lon`` of a cell's centre, as the query string wants it."""
    lat, lon = h3.cell_to_latlng(cell)
    return f"{lat},{lon}"


def query(a: str, b: str, profile: str | None = "safest") -> dict[str, str]:
    params = {"from": position(a), "to": position(b)}
    if profile is not None:
        params["profile"] = profile
    return params


RIDERS = 35
"""People a street needs to be in the routing release: 17 plus six sigma."""


def _user_id(person: Account | uuid.UUID) -> uuid.UUID:
    return person if isinstance(person, uuid.UUID) else uuid.UUID(person.id)


async def ride(
    engine: AsyncEngine,
    people: Sequence[Account | uuid.UUID],
    path: Sequence[str],
    mode: str = "bike",
    day: date = LAST_MONTH,
) -> None:
    """Each person rode ``path`` once on ``day`` (the aggregates' shape: one row per user, day, mode)."""
    for a, b in itertools.pairwise(path):
        assert h3.are_neighbor_cells(a, b), (a, b)
    users = [_user_id(p) for p in people]
    steps = [
        {"f": h3.str_to_int(a), "t": h3.str_to_int(b), "day": day, "mode": mode, "user": u}
        for u in users
        for a, b in itertools.pairwise(path)
    ]
    visits = [
        {"c": h3.str_to_int(c), "day": day, "mode": mode, "user": u}
        for u in users
        for c in dict.fromkeys(path)
    ]
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO cell_transition (from_cell, to_cell, day, mode, user_id, traversals) "
                "VALUES (:f, :t, :day, :mode, :user, 1) "
                "ON CONFLICT (from_cell, to_cell, day, mode, user_id) "
                "DO UPDATE SET traversals = cell_transition.traversals + 1"
            ),
            steps,
        )
        await conn.execute(
            sa.text(
                "INSERT INTO cell_exposure (cell, day, mode, user_id, rides) "
                "VALUES (:c, :day, :mode, :user, 1) "
                "ON CONFLICT (user_id, day, mode, cell) DO UPDATE SET rides = cell_exposure.rides + 1"
            ),
            visits,
        )


async def crowd(engine: AsyncEngine, n: int = RIDERS) -> list[uuid.UUID]:
    """``n`` people who share their rides for research (seeded, no login)."""
    seed = Seed(engine)
    return [await seed.user() for _ in range(n)]


async def confirmed_hazard(client: Client, reporter: Account, confirmer: Account, cell: str) -> str:
    """A hazard reported at the cell's centre by one person and confirmed by another."""
    lat, lon = h3.cell_to_latlng(cell)
    body = {"lat": lat, "lon": lon, "category": "road_surface", "severity": 3}
    headers = {**reporter.auth, "Idempotency-Key": f"route-{uuid.uuid4()}"}
    filed = await client.post("/hazards", json=body, headers=headers)
    assert filed.status_code == 201, filed.text
    hazard_id: str = filed.json()["hazardId"]
    confirmed = await client.post(
        f"/hazards/{hazard_id}/confirmations", json={"stillThere": True}, headers=confirmer.auth
    )
    assert confirmed.status_code == 201, confirmed.text
    return hazard_id


def graphs(client: Client) -> GraphCache:
    cache: GraphCache = client.app.state.route_graphs
    return cache


def settle(client: Client) -> None:
    """Wait for the app's background rebuild; it runs on the test client's portal loop."""
    client.blocking_portal.call(graphs(client).settled)


def is_path(cells: Sequence[str]) -> bool:
    return all(h3.are_neighbor_cells(a, b) for a, b in itertools.pairwise(cells))
