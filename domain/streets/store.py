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
    ints = {key: array("q") for key in ("way_id", "from_node", "to_node", "points")}
    floats = {key: array("d") for key in ("lons", "lats", "length_m")}
    flags: dict[str, list[bool]] = {key: [] for key in ("bicycle_forward", "bicycle_backward", "foot")}
    texts: dict[str, list[Any]] = {key: [] for key in ("name", "highway", "infrastructure", "surface")}
    maxspeed_kmh: list[int | None] = []
    lit: list[bool | None] = []
    same: dict[str | None, str | None] = {}
    one = same.setdefault  # one object per distinct string: asyncpg makes one per row
    result = await session.stream(_SEGMENTS, {"network": network.id})
    async for rows in result.partitions(CHUNK_ROWS):
        for r in rows:
            ints["way_id"].append(r.way_id)
            ints["from_node"].append(r.from_node)
            ints["to_node"].append(r.to_node)
            ints["points"].append(len(r.lons))
            floats["lons"].extend(r.lons)
            floats["lats"].extend(r.lats)
            floats["length_m"].append(r.length_m)
            row = r._mapping
            for key, values in flags.items():
                values.append(row[key])
            for key, strings in texts.items():
                strings.append(one(row[key], row[key]))
            maxspeed_kmh.append(r.maxspeed_kmh)
            lit.append(r.lit)
    n = len(ints["points"])
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.array(ints["points"], dtype=np.int64), out=offsets[1:])
    return Segments(
        network=network,
        way_id=np.array(ints["way_id"], dtype=np.int64),
        from_node=np.array(ints["from_node"], dtype=np.int64),
        to_node=np.array(ints["to_node"], dtype=np.int64),
        lons=Ragged(np.array(floats["lons"], dtype=np.float64), offsets),
        lats=Ragged(np.array(floats["lats"], dtype=np.float64), offsets),
        length_m=np.array(floats["length_m"], dtype=np.float64),
        name=texts["name"],
        highway=texts["highway"],
        bicycle_forward=np.fromiter(flags["bicycle_forward"], np.bool_, n),
        bicycle_backward=np.fromiter(flags["bicycle_backward"], np.bool_, n),
        foot=np.fromiter(flags["foot"], np.bool_, n),
        infrastructure=texts["infrastructure"],
        maxspeed_kmh=maxspeed_kmh,
        surface=texts["surface"],
        lit=lit,
    )
