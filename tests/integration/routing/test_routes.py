"""GET /routes/safe on a hand-built city: its riders reach the router only through the month's release."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import h3
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from geo.routing.graph import RoutingGraph
from geo.routing.search import compare
from tests.integration.conftest import Account, Register
from tests.integration.planner_helpers import TODAY
from tests.integration.route_helpers import (
    DETOUR,
    END,
    ISLAND,
    JUNCTION,
    MAIN,
    SIDE,
    START,
    Client,
    confirmed_hazard,
    crowd,
    graphs,
    is_path,
    position,
    query,
    ride,
    settle,
)

REPORTING = ("hazard_reporting",)
ROUTING_POLICY: dict[str, Any] = {"release_max_cells": 16}
"""A person may count in 16 cells, so one crowd can make the whole little city (threshold 17)."""


@pytest.fixture
async def client(
    clean_db: AsyncEngine, make_app: Callable[..., Litestar]
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=make_app(**ROUTING_POLICY)) as test_client:
        yield test_client


def app_with(make_app: Callable[..., Litestar], **changes: Any) -> Litestar:
    return make_app(**ROUTING_POLICY, **changes)


async def city(
    client: Client, engine: AsyncEngine, register: Register, *, hazard: bool = True
) -> tuple[list[Account], list[uuid.UUID]]:
    """The main street and the detour, ridden by a crowd last month; a confirmed hazard on the junction
    (reported and confirmed by two app users)."""
    reporters = [await register(consents=REPORTING) for _ in range(2)]
    riders = await crowd(engine)
    await ride(engine, riders, MAIN)
    await ride(engine, riders, DETOUR)
    if hazard:
        await confirmed_hazard(client, reporters[0], reporters[1], JUNCTION)
    return reporters, riders


async def props_of(worker: Client) -> dict[str, Any]:
    response = await worker.get("/routes/safe", params=query(START, END))
    assert response.status_code == 200, response.text
    props: dict[str, Any] = response.json()["properties"]
    return props


async def test_safest_route_avoids_the_hazard_that_the_shortest_route_crosses(
    client: Client, clean_db: AsyncEngine, register: Register
) -> None:
    await city(client, clean_db, register)

    response = await client.get("/routes/safe", params=query(START, END, "safest"))

    assert response.status_code == 200, response.text
    feature = response.json()
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "LineString"
    props = feature["properties"]
    assert props["profile"] == "safest"
    assert props["hazardsOnRoute"] == 0
    assert props["shortest"]["hazardsOnRoute"] == 1
    assert props["lengthM"] > props["shortest"]["lengthM"]
    assert props["lengthM"] < props["shortest"]["lengthM"] + 200  # a one-cell detour, not a tour
    assert props["dangerExposure"] < props["shortest"]["dangerExposure"]
    assert props["unriddenM"] == 0
    start, end = h3.cell_to_latlng(START), h3.cell_to_latlng(END)
    assert feature["geometry"]["coordinates"][0] == pytest.approx(
        [start[1], start[0]], abs=1e-6
    )  # [lon, lat]

    graph = graphs(client).graph
    assert graph is not None
    found = compare(graph, start[0], start[1], end[0], end[1], "safest")
    assert JUNCTION not in found.route.cells
    assert JUNCTION in found.shortest.cells
    assert is_path(found.route.cells)
    assert is_path(found.shortest.cells)
    assert (found.route.cells[0], found.route.cells[-1]) == (START, END)


async def test_shortest_profile_answers_the_same_route_twice(
    client: Client, clean_db: AsyncEngine, register: Register
) -> None:
    await city(client, clean_db, register)

    props = (await client.get("/routes/safe", params=query(START, END, "shortest"))).json()["properties"]

    assert props["profile"] == "shortest"
    assert props["hazardsOnRoute"] == 1
    assert {k: v for k, v in props.items() if k in props["shortest"]} == props["shortest"]


async def test_profile_defaults_to_safest(client: Client, clean_db: AsyncEngine, register: Register) -> None:
    await city(client, clean_db, register)

    response = await client.get("/routes/safe", params=query(START, END, None))

    assert response.status_code == 200, response.text
    assert response.json()["properties"]["profile"] == "safest"


async def test_a_lane_few_people_ride_is_only_fallback(
    client: Client, clean_db: AsyncEngine, register: Register
) -> None:
    _, riders = await city(client, clean_db, register, hazard=False)
    await ride(clean_db, riders[:4], SIDE)

    response = await client.get("/routes/safe", params=query(SIDE[0], SIDE[-1], "shortest"))

    assert response.status_code == 200, response.text
    props = response.json()["properties"]
    assert props["unriddenM"] > 0
    graph = graphs(client).graph
    assert graph is not None
    shown = set(MAIN) | set(DETOUR)
    assert graph.traversed_edges == sum(
        1 for a in shown for b in shown if a < b and h3.are_neighbor_cells(a, b)
    )
    assert not any(ridden(graph, a, b) for a, b in itertools.pairwise(SIDE[:-1]))
    assert SIDE[-1] not in graph.index  # the lane's far end is not even a node
    assert all(ridden(graph, a, b) for a, b in itertools.pairwise(MAIN))


def ridden(graph: RoutingGraph, a: str, b: str) -> bool:
    """Whether the graph holds a ridden (not fallback) edge between two neighbouring cells."""
    i, j = graph.index[a], graph.index[b]
    entries = range(int(graph.indptr[i]), int(graph.indptr[i + 1]))
    return any(int(graph.indices[e]) == j and not bool(graph.entry_fallback[e]) for e in entries)


async def test_a_point_outside_the_service_area_is_422_naming_the_field(
    client: Client, clean_db: AsyncEngine, register: Register
) -> None:
    await city(client, clean_db, register)

    far = {"from": position(START), "to": "50.8466,4.3528"}  # Brussels
    response = await client.get("/routes/safe", params=far)
    flipped = await client.get("/routes/safe", params={"from": far["to"], "to": far["from"]})

    assert response.status_code == 422
    assert response.json()["type"] == "urn:saferoutes:problem:outside-service-area"
    assert response.json()["errors"][0]["field"] == "to"
    assert flipped.status_code == 422
    assert flipped.json()["errors"][0]["field"] == "from"


async def test_points_in_parts_no_edge_joins_are_unreachable(
    client: Client, clean_db: AsyncEngine, register: Register
) -> None:
    _, riders = await city(client, clean_db, register)
    await ride(clean_db, riders, ISLAND)

    response = await client.get("/routes/safe", params=query(START, ISLAND[-1]))

    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "urn:saferoutes:problem:unreachable"
    assert body["errors"][0]["field"] == "to"
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        ("from", "51.02", 400),
        ("from", "51.02,4.47,3", 400),
        ("from", "abc,def", 400),
        ("from", "nan,4.47", 400),
        ("from", "inf,4.47", 400),
        ("from", "1e400,4.47", 400),
        ("from", "91,4.47", 422),
        ("to", "51.02,181", 422),
        ("to", "51.02;4.47", 400),
        ("to", "", 400),
    ],
)
async def test_malformed_positions_are_refused_naming_the_field(
    client: Client, clean_db: AsyncEngine, field: str, value: str, status: int
) -> None:
    """Not two plain numbers: 400, as the document's pattern says; out of range: 422."""
    params = {"from": "51.0259,4.4776", "to": "51.03,4.48", field: value}

    response = await client.get("/routes/safe", params=params)

    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("missing", ["from", "to"])
async def test_a_missing_position_is_422_naming_it(
    client: Client, clean_db: AsyncEngine, missing: str
) -> None:
    params = {"from": "51.0311,4.4801", "to": "51.0322,4.4812"}
    del params[missing]

    response = await client.get("/routes/safe", params=params)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == missing
    assert "4.48" not in response.text  # the other point is not echoed


async def test_an_unknown_profile_is_422(client: Client, clean_db: AsyncEngine) -> None:
    response = await client.get("/routes/safe", params={**query(START, END), "profile": "fastest"})

    assert response.status_code == 422
    assert response.json()["type"] == "urn:saferoutes:problem:unknown-profile"
    assert response.json()["errors"][0]["field"] == "profile"


async def test_no_network_yet_is_503_with_retry_after(client: Client, clean_db: AsyncEngine) -> None:
    response = await client.get("/routes/safe", params=query(START, END))

    assert response.status_code == 503
    assert response.json()["type"] == "urn:saferoutes:problem:routing-unavailable"
    assert int(response.headers["retry-after"]) >= 1


async def test_two_workers_rebuild_when_a_hazard_appears(
    client: Client, clean_db: AsyncEngine, register: Register, make_app: Callable[..., Litestar]
) -> None:
    reporters, _ = await city(client, clean_db, register, hazard=False)
    async with (
        AsyncTestClient(app=app_with(make_app, routing_check_s=0)) as one,
        AsyncTestClient(app=app_with(make_app, routing_check_s=0)) as two,
    ):
        before = [
            (await w.get("/routes/safe", params=query(START, END))).json()["properties"] for w in (one, two)
        ]
        assert [p["lengthM"] for p in before] == [before[0]["shortest"]["lengthM"]] * 2  # nothing to avoid
        assert before[0]["graphVersion"] == before[1]["graphVersion"]

        await confirmed_hazard(client, reporters[0], reporters[1], JUNCTION)
        for worker in (one, two):
            stale = await props_of(worker)
            assert stale["graphVersion"] == before[0]["graphVersion"]  # answered at once, old graph
            settle(worker)
        after = [
            (await w.get("/routes/safe", params=query(START, END))).json()["properties"] for w in (one, two)
        ]

        assert after[0]["graphVersion"] == after[1]["graphVersion"] != before[0]["graphVersion"]
        assert [p["hazardsOnRoute"] for p in after] == [0, 0]
        assert [p["shortest"]["hazardsOnRoute"] for p in after] == [1, 1]
        assert graphs(one).builds == graphs(two).builds == 2


async def test_a_worker_checks_the_stamp_only_after_the_check_interval(
    client: Client, clean_db: AsyncEngine, register: Register, make_app: Callable[..., Litestar]
) -> None:
    reporters, _ = await city(client, clean_db, register, hazard=False)
    async with AsyncTestClient(app=app_with(make_app, routing_check_s=3600)) as worker:
        assert (await worker.get("/routes/safe", params=query(START, END))).status_code == 200
        await confirmed_hazard(client, reporters[0], reporters[1], JUNCTION)
        props = (await worker.get("/routes/safe", params=query(START, END))).json()["properties"]
        settle(worker)

        assert props["shortest"]["hazardsOnRoute"] == 0
        assert graphs(worker).builds == 1


async def test_one_persons_rides_do_not_move_a_routes_figures(
    client: Client, clean_db: AsyncEngine, register: Register, make_app: Callable[..., Litestar]
) -> None:
    """The router reads the month's release, never the rides: whoever rides now, consenting to
    research or not, changes no figure until the next month is released (and then only through a
    release, noise and all)."""
    await city(client, clean_db, register)
    async with AsyncTestClient(app=app_with(make_app, routing_check_s=0)) as worker:
        before = await props_of(worker)
        outsider = await register(consents=("ride_tracking",))  # no research_sharing
        await ride(clean_db, [outsider], SIDE)  # last month, without research consent
        await ride(clean_db, [outsider], MAIN, day=TODAY)
        await ride(clean_db, await crowd(clean_db, 1), DETOUR, day=TODAY)  # a researcher, this month
        settle(worker)
        after = await props_of(worker)
        settle(worker)
        assert after == before
        assert graphs(worker).builds == 1
