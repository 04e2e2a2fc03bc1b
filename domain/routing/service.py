"""One worker's routing graph: built from the database once, checked against the data's stamp, rebuilt.

The policy (docs/routing.md, "Rebuild policy"):
- no graph yet, or one older than ``max_age_s``: the request waits for the
  build (single-flight: concurrent requests share one build);
- at most every ``check_s`` a request reads the stamp (:class:`Stamp`, two
  index-backed aggregates and the month released); when a hazard changed, a
  new month was released, or the graph nears ``max_age_s``, the graph is
  rebuilt in the background while requests keep the old one, then swapped in;
- a failed background build is logged and retried at the next check.
Every worker reads the same rows, so workers converge on the same version with
no state of their own that another needs.

With an imported street network (``saferoutes streets import``) the same build
also makes the street graph (domain.routing.streets) and routes run on it; the
cell graph stays the fallback without one. The network's id is part of the
stamp, so a re-import is picked up like a new release.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.core.columns import utcnow
from domain.routing.rules import RoutingUnavailable, Stamp
from domain.routing.store import build_graph, load_inputs, read_stamp
from domain.routing.streets import SegmentCells, build_street_graph, segment_cells
from domain.streets import rules as street_rules
from domain.streets.store import active_network, load_segments
from geo.routing.graph import PROFILES, Profile, RoutingGraph, UnknownProfile
from geo.routing.search import RouteComparison, compare
from geo.streets.graph import StreetGraph
from geo.streets.route import StreetComparison
from geo.streets.route import compare as compare_streets
from privacy.release.rules import ReleasePolicy

log = logging.getLogger("saferoutes.routing")


class GraphCache:
    """Holds the graph, its stamp and its age; the only mutable routing state, one per worker."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        resolution: int,
        policy: ReleasePolicy,
        max_age_s: float,
        check_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._resolution = resolution
        self._policy = policy
        self._max_age_s = max_age_s
        self._check_s = check_s
        self._soft_age_s = max(max_age_s - check_s, max_age_s / 2)
        self._clock = clock
        self._graph: RoutingGraph | None = None
        self._streets: StreetGraph | None = None
        self._network: SegmentCells | None = None
        self._stamp: Stamp | None = None
        self._built = 0.0
        self._checked = 0.0
        self._task: asyncio.Task[None] | None = None
        self.builds = 0

    @property
    def graph(self) -> RoutingGraph | None:
        return self._graph

    @property
    def streets(self) -> StreetGraph | None:
        return self._streets

    async def _fresh(self) -> None:
        now = self._clock()
        if self._graph is None or now - self._built >= self._max_age_s:
            await asyncio.shield(self._start())
        elif now - self._checked >= self._check_s:
            self._checked = now
            if now - self._built >= self._soft_age_s or await self.stale():
                self._start()

    async def current_streets(self) -> StreetGraph | None:
        """The street graph to answer with now, or None when no street network is imported."""
        await self._fresh()
        return self._streets

    async def current(self) -> RoutingGraph:
        """The graph to answer with now; raises :class:`RoutingUnavailable` while nobody has ridden enough."""
        await self._fresh()
        graph = self._graph
        if graph is None or not graph.cells:
            raise RoutingUnavailable(
                "No routes yet: the routing network forms once enough people have ridden here.",
                retry_after_s=max(int(self._check_s), 1),
            )
        return graph

    async def refresh(self) -> RoutingGraph | None:
        """Rebuild now from the current data and wait for it (an operator's or a test's lever)."""
        await self.settled()
        await self._start()
        return self._graph

    async def settled(self) -> None:
        """Wait for the build in flight, if any."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._task)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def stale(self) -> bool:
        """Whether the data moved since the build: a hazard changed, or a new month is released."""
        async with self._sessionmaker() as session:
            stamp = await read_stamp(session, today=utcnow().date())
        return stamp != self._stamp

    def _start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._rebuild())
            self._task.add_done_callback(_log_failure)
        return self._task

    async def _rebuild(self) -> None:
        started, built_at = self._clock(), utcnow()
        async with self._sessionmaker() as session:
            inputs = await load_inputs(
                session, now=built_at, resolution=self._resolution, policy=self._policy
            )
            network = self._network
            wanted = inputs.stamp.streets
            if wanted is None:
                network = None
            elif network is None or network.network_id != wanted:
                info = await active_network(session)
                if info is not None:
                    segments = await load_segments(session, info)
                    network = await anyio.to_thread.run_sync(segment_cells, segments, self._resolution)
        build = functools.partial(build_graph, inputs, resolution=self._resolution, built_at=built_at)
        graph = await anyio.to_thread.run_sync(build)
        streets = None
        if network is not None:
            streets = await anyio.to_thread.run_sync(build_street_graph, inputs, network)
        self._graph, self._stamp, self._built, self._checked = graph, inputs.stamp, started, started
        self._streets, self._network = streets, network
        self.builds += 1
        log.info(
            "routing graph built",
            extra={
                "version": graph.version,
                "cells": len(graph.cells),
                "ridden": graph.traversed_edges,
                "segments": 0 if streets is None else streets.segment_count,
            },
        )


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.warning("routing graph build failed: %s", type(exc).__name__)


ROUTE_PROFILES: tuple[str, ...] = street_rules.PROFILES
"""What ``profile`` may be: the cell graph's profiles and ``child`` (on cells without speed limits,
``child`` routes as ``safest``)."""


async def find_route(
    graphs: GraphCache,
    from_lat: float,
    from_lon: float,
    to_lat: float,
    to_lon: float,
    profile: str,
) -> tuple[RouteComparison | StreetComparison, str]:
    """The chosen profile's route and the shortest one, and the version of the graph they were found on.

    On the street graph when a network is imported, else on the cell graph. The
    profile is checked before anything else; the search runs in a thread (compiled
    code, a few ms on a city) so the event loop stays free.
    """
    if profile not in ROUTE_PROFILES:
        raise UnknownProfile("profile", f"must be one of {', '.join(ROUTE_PROFILES)}")
    streets = await graphs.current_streets()
    if streets is not None:
        on_streets = functools.partial(compare_streets, streets, from_lat, from_lon, to_lat, to_lon, profile)
        return await anyio.to_thread.run_sync(on_streets), streets.version
    graph = await graphs.current()
    cell_profile: Profile = "safest" if profile == "child" else profile  # type: ignore[assignment]
    assert cell_profile in PROFILES
    search = functools.partial(compare, graph, from_lat, from_lon, to_lat, to_lon, cell_profile)
    return await anyio.to_thread.run_sync(search), graph.version
