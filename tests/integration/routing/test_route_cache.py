"""A worker's graph cache: single-flight builds, the age limit, background rebuilds that may fail."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.database import make_sessionmaker
from domain.routing import service as route_cache
from domain.routing.service import GraphCache
from privacy.release.rules import ReleasePolicy
from tests.integration.conftest import Register
from tests.integration.route_helpers import DETOUR, MAIN, crowd, ride

MAX_AGE, CHECK = 300.0, 30.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


POLICY = ReleasePolicy(epsilon=10, max_cells=16, max_passes=4, resolution=10, budget_epsilon=1_000_000)


async def cache_on_city(engine: AsyncEngine, register: Register) -> tuple[GraphCache, Clock]:
    riders = await crowd(engine)
    await ride(engine, riders, MAIN)
    await ride(engine, riders, DETOUR)
    clock = Clock()
    cache = GraphCache(
        make_sessionmaker(engine),
        resolution=10,
        policy=POLICY,
        max_age_s=MAX_AGE,
        check_s=CHECK,
        clock=clock,
    )
    return cache, clock


async def test_concurrent_first_requests_share_one_build(clean_db: AsyncEngine, register: Register) -> None:
    cache, _ = await cache_on_city(clean_db, register)

    graphs = await asyncio.gather(*(cache.current() for _ in range(5)))

    assert cache.builds == 1
    assert all(g is graphs[0] for g in graphs)
    assert len(graphs[0].cells) > len(MAIN)


async def test_a_graph_past_the_age_limit_is_never_served(clean_db: AsyncEngine, register: Register) -> None:
    cache, clock = await cache_on_city(clean_db, register)
    first = await cache.current()

    clock.now += MAX_AGE + 1
    second = await cache.current()

    assert cache.builds == 2
    assert second is not first


async def test_a_graph_nearing_the_age_limit_is_rebuilt_in_the_background(
    clean_db: AsyncEngine, register: Register
) -> None:
    cache, clock = await cache_on_city(clean_db, register)
    first = await cache.current()

    clock.now += MAX_AGE - CHECK + 1
    served = await cache.current()
    await cache.settled()

    assert served is first  # nobody waited
    assert cache.builds == 2
    assert await cache.current() is not first


async def test_unchanged_data_is_not_rebuilt_at_a_check(clean_db: AsyncEngine, register: Register) -> None:
    cache, clock = await cache_on_city(clean_db, register)
    first = await cache.current()

    clock.now += CHECK + 1
    assert await cache.current() is first
    await cache.settled()

    assert cache.builds == 1


async def test_a_failed_background_build_keeps_the_old_graph_and_retries_later(
    clean_db: AsyncEngine, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, clock = await cache_on_city(clean_db, register)
    first = await cache.current()
    real = route_cache.load_inputs

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database went away")

    monkeypatch.setattr(route_cache, "load_inputs", broken)
    clock.now += MAX_AGE - CHECK + 1
    assert await cache.current() is first
    await cache.settled()
    assert await cache.current() is first  # no retry before the next check
    assert cache.builds == 1

    monkeypatch.setattr(route_cache, "load_inputs", real)
    clock.now += CHECK
    await cache.current()
    await cache.settled()
    assert cache.builds == 2
