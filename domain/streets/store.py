"""Reads of the imported network and the statements of its atomic swap; nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from domain.streets.osm import COLUMNS
from domain.streets.tables import StreetNetwork

_NEXT_ID = sa.text("SELECT nextval(pg_get_serial_sequence('street_network', 'id'))")
_ACTIVE = sa.text(
    "SELECT id, source, imported_at, segment_count, way_count, length_m FROM street_network "
    "ORDER BY id DESC LIMIT 1"
)
_SEGMENTS = sa.text(
    """
    SELECT id, way_id, from_node, to_node, lons, lats, length_m, NULLIF(name, '') AS name, highway,
           bicycle_forward, bicycle_backward, foot, infrastructure, maxspeed_kmh, surface, lit
    FROM street_segment WHERE network_id = :network ORDER BY id
    """
)


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    id: int
    source: str
    imported_at: datetime
    segment_count: int
    way_count: int
    length_m: float

    @property
    def version(self) -> str:
        return f"streets-{self.id}"


@dataclass(frozen=True, slots=True)
class Segments:
    """The network's segments as columns (one entry per segment, in id order); coordinates per segment."""

    network: NetworkInfo
    way_id: npt.NDArray[np.int64]
    from_node: npt.NDArray[np.int64]
    to_node: npt.NDArray[np.int64]
    lons: list[npt.NDArray[np.float64]]
    lats: list[npt.NDArray[np.float64]]
    length_m: npt.NDArray[np.float64]
    name: list[str | None]
    highway: list[str]
    bicycle_forward: npt.NDArray[np.bool_]
    bicycle_backward: npt.NDArray[np.bool_]
    foot: npt.NDArray[np.bool_]
    infrastructure: list[str]
    maxspeed_kmh: list[int | None]
    surface: list[str | None]
    lit: list[bool | None]


async def reserve_network_id(conn: AsyncConnection) -> int:
    """A fresh network id (a sequence value: no transaction holds it, none gives it back)."""
    return int((await conn.execute(_NEXT_ID)).scalar_one())


async def swap_network(
    conn: AsyncConnection,
    network: StreetNetwork,
    rows_csv: Path,
) -> int:
    """Insert ``network``, COPY its segment rows, delete every other network: in the caller's transaction.

    Returns how many older networks were replaced.
    """
    await conn.execute(sa.insert(StreetNetwork.__table__).values(**network.model_dump()))  # type: ignore[attr-defined]
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_to_table("street_segment", source=str(rows_csv), columns=list(COLUMNS), format="csv")
    table: Any = StreetNetwork.__table__  # type: ignore[attr-defined]
    gone = await conn.execute(sa.delete(table).where(table.c.id != network.id))
    return int(gone.rowcount)


async def active_network(session: AsyncSession | AsyncConnection) -> NetworkInfo | None:
    """The network routes use: the last one imported (there is one after a swap)."""
    row = (await session.execute(_ACTIVE)).one_or_none()
    return None if row is None else NetworkInfo(*row)


async def load_segments(session: AsyncSession | AsyncConnection, network: NetworkInfo) -> Segments:
    """Every segment of ``network``, as columns."""
    rows = (await session.execute(_SEGMENTS, {"network": network.id})).all()
    return Segments(
        network=network,
        way_id=np.fromiter((r.way_id for r in rows), np.int64, len(rows)),
        from_node=np.fromiter((r.from_node for r in rows), np.int64, len(rows)),
        to_node=np.fromiter((r.to_node for r in rows), np.int64, len(rows)),
        lons=[np.asarray(r.lons, dtype=np.float64) for r in rows],
        lats=[np.asarray(r.lats, dtype=np.float64) for r in rows],
        length_m=np.fromiter((r.length_m for r in rows), np.float64, len(rows)),
        name=[r.name for r in rows],
        highway=[r.highway for r in rows],
        bicycle_forward=np.fromiter((r.bicycle_forward for r in rows), np.bool_, len(rows)),
        bicycle_backward=np.fromiter((r.bicycle_backward for r in rows), np.bool_, len(rows)),
        foot=np.fromiter((r.foot for r in rows), np.bool_, len(rows)),
        infrastructure=[r.infrastructure for r in rows],
        maxspeed_kmh=[r.maxspeed_kmh for r in rows],
        surface=[r.surface for r in rows],
        lit=[r.lit for r in rows],
    )
