"""Shared helpers for the hazard tests: places in Mechelen, report posting, planners, row counts."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import h3
import sqlalchemy as sa
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient

from domain.core.enums import Role
from domain.hazards.tables import Hazard
from tests.clock import session_clock
from tests.integration import school_helpers
from tests.integration.conftest import Account

Client = AsyncTestClient[Litestar]
REPORTING = ("hazard_reporting",)
_CENTRE = h3.cell_to_latlng(h3.latlng_to_cell(51.0259, 4.4776, 10))
HERE: tuple[float, float] = (float(_CENTRE[0]), float(_CENTRE[1]))
"""(lat, lon) of a res-10 cell centre in Mechelen, so that small offsets stay in the cell."""
_keys = itertools.count()


def body(lat: float = HERE[0], lon: float = HERE[1], **fields: Any) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "category": "road_surface", "severity": 2, **fields}


async def report(
    client: Client, account: Account, payload: dict[str, Any] | None = None, *, key: str | None = None
) -> Response:
    headers = {**account.auth, "Idempotency-Key": key or f"test-key-{next(_keys):08d}"}
    return await client.post("/hazards", json=payload if payload is not None else body(), headers=headers)


async def filed(client: Client, account: Account, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await report(client, account, payload)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def staff(client: Client, role: Role = Role.PLANNER) -> Account:
    """A planner or admin account: they cannot register themselves, so create one the CLI way."""
    return await school_helpers.staff(client, role)


async def count(client: Client, table: str) -> int:
    app: Litestar = client.app
    async with app.state.sessionmaker() as session:
        return int((await session.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def make_hazard(
    client: Client,
    *,
    status: str = "open",
    lat: float = HERE[0],
    lon: float = HERE[1],
    category: str = "road_surface",
    created_at: datetime | None = None,
) -> str:
    """A hazard row without reports, for triage and listing tests that need many or specific ones."""
    moment = created_at or session_clock()
    hazard = Hazard(
        category=category,
        cell=h3.latlng_to_cell(lat, lon, 10),
        lat=lat,
        lon=lon,
        status=status,
        severity=2,
        report_count=1,
        created_at=moment,
        updated_at=moment,
    )
    app: Litestar = client.app
    async with app.state.sessionmaker() as session:
        session.add(hazard)
        await session.commit()
    return str(hazard.id)


def far(step: int) -> tuple[float, float]:
    """A place `step` kilometres north of HERE, in a cell of its own."""
    return HERE[0] + 0.01 * step, HERE[1]
