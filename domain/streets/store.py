"""Reads of the imported network and the statements of its atomic swap; nothing here commits."""

from __future__ import annotations

from array import array
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
from geo.streets.packed import Ragged

_NEXT_ID = sa.text("SELECT nextval(pg_get_serial_sequence('street_network', 'id'))")
_ACTIVE = sa.text(
    "SELECT id, source, imported_at, segment_count, way_count, length_m FROM street_network "
    "ORDER BY id DESC LIMIT 1"
)
_SEGMENTS = sa.text(  # load_segments unpacks the columns in this order
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
    """The network's segments as columns (one entry per segment, in id order).

    The coordinates are packed (``lons[s]`` is a view of one flat array) and equal strings are
    one object, so a country's millions of segments cost a few hundred bytes each, not kilobytes.
    """

    network: NetworkInfo
    way_id: npt.NDArray[np.int64]
    from_node: npt.NDArray[np.int64]
    to_node: npt.NDArray[np.int64]
    lons: Ragged
    lats: Ragged
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


CHUNK_ROWS = 20_000
"""Segments fetched at a time by :func:`load_segments`."""


async def load_segments(session: AsyncSession | AsyncConnection, network: NetworkInfo) -> Segments:
    """Every segment of ``network``, as columns.

    Read through a server-side cursor :data:`CHUNK_ROWS` rows at a time into growing flat arrays:
    all rows at once would hold about a kilobyte of row objects per segment at the peak (memory
    the process keeps after), and one fetch of a country's millions would outlast the service's
    statement timeout.
    """
    way_id, from_node, to_node, points = array("q"), array("q"), array("q"), array("q")
    lons, lats, length_m = array("d"), array("d"), array("d")
    forward: list[bool] = []
    backward: list[bool] = []
    foot: list[bool] = []
    name: list[str | None] = []
    highway: list[str] = []
    infrastructure: list[str] = []
    maxspeed_kmh: list[int | None] = []
    surface: list[str | None] = []
    lit: list[bool | None] = []
    same: dict[Any, Any] = {}
    one = same.setdefault  # one object per distinct string: asyncpg makes one per row
    result = await session.stream(_SEGMENTS, {"network": network.id})
    async for rows in result.partitions(CHUNK_ROWS):
        for _, way, a, b, xs, ys, metres, called, kind, fwd, bwd, walk, infra, speed, surf, light in rows:
            way_id.append(way)
            from_node.append(a)
            to_node.append(b)
            points.append(len(xs))
            lons.extend(xs)
            lats.extend(ys)
            length_m.append(metres)
            forward.append(fwd)
            backward.append(bwd)
            foot.append(walk)
            name.append(one(called, called))
            highway.append(one(kind, kind))
            infrastructure.append(one(infra, infra))
            maxspeed_kmh.append(speed)
            surface.append(one(surf, surf))
            lit.append(light)
    n = len(points)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.array(points, dtype=np.int64), out=offsets[1:])
    return Segments(
        network=network,
        way_id=np.array(way_id, dtype=np.int64),
        from_node=np.array(from_node, dtype=np.int64),
        to_node=np.array(to_node, dtype=np.int64),
        lons=Ragged(np.array(lons, dtype=np.float64), offsets),
        lats=Ragged(np.array(lats, dtype=np.float64), offsets),
        length_m=np.array(length_m, dtype=np.float64),
        name=name,
        highway=highway,
        bicycle_forward=np.fromiter(forward, np.bool_, n),
        bicycle_backward=np.fromiter(backward, np.bool_, n),
        foot=np.fromiter(foot, np.bool_, n),
        infrastructure=infrastructure,
        maxspeed_kmh=maxspeed_kmh,
        surface=surface,
        lit=lit,
    )
