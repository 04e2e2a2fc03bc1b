"""Exposure and transition aggregates: per mode, distinct contributors, exact after deletes and erasure."""

from __future__ import annotations

import uuid

import h3
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.integration.conftest import Register
from tests.integration.ride_helpers import Client, count, ride_json, rows, simulated, upload

EXPOSURE = "SELECT cell, day, mode, user_id, rides FROM cell_exposure ORDER BY 1, 2, 3, 4"
TRANSITIONS = (
    "SELECT from_cell, to_cell, day, mode, user_id, traversals FROM cell_transition ORDER BY 1, 2, 3, 4, 5"
)
PER_CELL = """
    SELECT cell, mode, sum(rides), count(DISTINCT user_id)
    FROM cell_exposure GROUP BY cell, mode ORDER BY 1, 2
"""


async def _snapshot(engine: AsyncEngine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return await rows(engine, EXPOSURE), await rows(engine, TRANSITIONS)


async def test_a_ride_counts_once_per_cell_and_its_steps_as_transitions(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    response = await upload(client, account.auth, ride_json(simulated(31, duration_s=900).points))
    ride_id = uuid.UUID(response.json()["id"])
    cells = await rows(db_engine, "SELECT count(DISTINCT cell) FROM ride_cell WHERE ride_id = :r", r=ride_id)
    steps = await rows(
        db_engine,
        "SELECT count(*) FROM ride_cell a JOIN ride_cell b"
        " ON b.ride_id = a.ride_id AND b.seq = a.seq + 1 AND b.segment = a.segment WHERE a.ride_id = :r",
        r=ride_id,
    )
    assert await rows(db_engine, "SELECT count(*), sum(rides) FROM cell_exposure") == [(cells[0][0],) * 2]
    assert await rows(db_engine, "SELECT sum(traversals) FROM cell_transition") == steps
    assert await rows(db_engine, "SELECT DISTINCT mode FROM cell_exposure") == [("bike",)]
    # every transition joins two neighbouring cells
    for f, t, *_ in await rows(db_engine, TRANSITIONS):
        assert h3.are_neighbor_cells(h3.int_to_str(f), h3.int_to_str(t))


async def test_walks_and_rides_are_counted_apart_and_motorised_trips_not_at_all(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    account = await register(consents=("ride_tracking",))
    for seed, mode in ((32, "walk"), (33, "bike"), (34, "car")):
        response = await upload(
            client, account.auth, ride_json(simulated(seed, mode=mode, duration_s=900).points)
        )
        assert response.status_code == 201
    modes = await rows(db_engine, "SELECT DISTINCT mode FROM cell_exposure ORDER BY 1")
    assert modes == [("bike",), ("walk",)]
    assert await rows(db_engine, "SELECT DISTINCT mode FROM cell_transition ORDER BY 1") == modes
    assert await count(db_engine, "ride") == 3


async def test_distinct_contributors_and_rides_per_cell(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    anna, bert = await register(consents=("ride_tracking",)), await register(consents=("ride_tracking",))
    route = ride_json(simulated(35, duration_s=900).points)
    for who in (anna, anna, bert):
        assert (await upload(client, who.auth, route)).status_code == 201
    per_cell = await rows(db_engine, PER_CELL)
    from_rides = await rows(
        db_engine,
        "SELECT c.cell, r.mode, count(DISTINCT r.id), count(DISTINCT r.user_id)"
        " FROM ride_cell c JOIN ride r ON r.id = c.ride_id GROUP BY 1, 2 ORDER BY 1, 2",
    )
    assert per_cell == from_rides
    # along the route all three rides of two people pass; only the ends differ (each user's own trim)
    assert sum(1 for *_, rides, people in per_cell if (rides, people) == (3, 2)) > len(per_cell) / 2


async def test_deleting_a_ride_puts_the_aggregates_back_exactly(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    anna, bert = await register(consents=("ride_tracking",)), await register(consents=("ride_tracking",))
    await upload(client, anna.auth, ride_json(simulated(36, duration_s=900).points))
    await upload(client, bert.auth, ride_json(simulated(36, duration_s=900).points))
    before = await _snapshot(db_engine)
    for seed in (36, 37):  # the same route again (rows go 1 -> 2 -> 1) and a new one (rows appear and go)
        added = await upload(client, anna.auth, ride_json(simulated(seed, duration_s=900).points))
        assert await _snapshot(db_engine) != before
        deleted = await client.delete(f"/rides/{added.json()['id']}", headers=anna.auth)
        assert deleted.status_code == 204
        assert await _snapshot(db_engine) == before
    assert await count(db_engine, "ride") == 2


async def test_erasing_an_account_removes_exactly_its_contributions(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    anna, bert = await register(consents=("ride_tracking",)), await register(consents=("ride_tracking",))
    route = ride_json(simulated(38, duration_s=900).points)
    await upload(client, bert.auth, route)
    before = await _snapshot(db_engine)
    await upload(client, anna.auth, route)
    await upload(client, anna.auth, ride_json(simulated(39, duration_s=900).points))
    async with db_engine.begin() as conn:  # DELETE /me lands later; the cascade is what it will rely on
        await conn.execute(sa.text("DELETE FROM app_user WHERE id = :id"), {"id": uuid.UUID(anna.id)})
    assert await _snapshot(db_engine) == before
    assert await count(db_engine, "ride") == 1
    assert await rows(db_engine, "SELECT count(*) FROM ride_cell c JOIN ride r ON r.id = c.ride_id") == [
        (await count(db_engine, "ride_cell"),)
    ]


async def test_research_sharing_contributions_can_be_told_apart_at_export_time(
    client: Client, register: Register, db_engine: AsyncEngine
) -> None:
    sharing = await register(consents=("ride_tracking", "research_sharing"))
    private = await register(consents=("ride_tracking",))
    route = ride_json(simulated(40, duration_s=600).points)
    await upload(client, sharing.auth, route)
    await upload(client, private.auth, route)
    users = await rows(db_engine, "SELECT DISTINCT user_id FROM cell_exposure ORDER BY 1")
    assert sorted(str(u) for (u,) in users) == sorted([sharing.id, private.id])
