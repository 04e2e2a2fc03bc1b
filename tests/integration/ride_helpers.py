"""Simulated rides as upload bodies (JSON and GPX), and small readers of what was stored."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from geo.points import TracePoint
from geo.simulator import Mode, SimulatedRide, simulate_ride, street_grid
from tests.clock import session_clock

Client = AsyncTestClient[Litestar]
GRID = street_grid()


def recent_start(hours_ago: float = 2.0) -> float:
    """A whole-minute epoch time some hours back, so that nothing is 'in the future' or 'too old'."""
    t = session_clock().timestamp() - hours_ago * 3600
    return float(int(t) - int(t) % 60)


def simulated(
    seed: int = 1, *, mode: Mode = "bike", duration_s: int = 600, start_t: float | None = None
) -> SimulatedRide:
    return simulate_ride(
        random.Random(seed), mode=mode, duration_s=duration_s, start_t=start_t or recent_start(), streets=GRID
    )


def point_json(p: TracePoint) -> dict[str, Any]:
    return {"lat": p.lat, "lon": p.lon, "t": p.t, "accuracy": p.accuracy}


def ride_json(points: Sequence[TracePoint], incidents: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"points": [point_json(p) for p in points]}
    if incidents:
        body["incidents"] = list(incidents)
    return body


def ride_gpx(segments: Sequence[Sequence[TracePoint]]) -> bytes:
    """GPX 1.1 with one track and one <trkseg> per given run of points."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gpx version="1.1" creator="tests" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>r</name>',
    ]
    for segment in segments:
        parts.append("<trkseg>")
        for p in segment:
            when = datetime.fromtimestamp(p.t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            parts.append(f'<trkpt lat="{p.lat!r}" lon="{p.lon!r}"><ele>5</ele><time>{when}</time></trkpt>')
        parts.append("</trkseg>")
    parts.append("</trk></gpx>")
    return "".join(parts).encode()


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


async def upload(
    client: Client, auth: dict[str, str], body: dict[str, Any], *, idem: dict[str, str] | None = None
) -> Any:
    return await client.post("/rides", json=body, headers={**auth, **(idem or key())})


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def rows(engine: AsyncEngine, query: str, **params: Any) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        return [tuple(r) for r in (await conn.execute(sa.text(query), params)).all()]
