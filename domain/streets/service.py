"""Use case: import an .osm.pbf extract as the street network, replacing the old one atomically.

The extract is read twice (domain.streets.osm) into a temporary CSV file next to
nothing in memory, outside any transaction; then one transaction inserts the new
network, COPYs its segments and deletes the old network. A failure anywhere
before the commit leaves the old network as it was (docs/streets.md).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.streets.osm import Progress, ReadCounts, read_extract
from domain.streets.rules import UnreadableExtract
from domain.streets.store import reserve_network_id, swap_network
from domain.streets.tables import StreetNetwork


@dataclass(frozen=True, slots=True)
class ImportReport:
    network_id: int
    counts: ReadCounts
    replaced: int


async def import_extract(
    engine: AsyncEngine, path: Path, *, now: datetime, progress: Progress
) -> ImportReport:
    """Read ``path`` and make it the network routes use; commits once (the swap)."""
    async with engine.connect() as conn:
        network_id = await reserve_network_id(conn)
        await conn.commit()
    with tempfile.TemporaryDirectory(prefix="saferoutes-streets-") as tmp:
        rows = Path(tmp) / "segments.csv"
        with rows.open("w", encoding="utf-8", newline="") as out:
            counts = await anyio.to_thread.run_sync(read_extract, path, out, network_id, progress)
        if counts.segments == 0:
            raise UnreadableExtract(f"{path}: no street a bicycle or a pedestrian may use")
        network = StreetNetwork(
            id=network_id,
            source=path.name[:255],
            imported_at=now,
            segment_count=counts.segments,
            way_count=counts.ways_kept,
            length_m=counts.length_m,
        )
        progress("writing", counts.segments)
        async with engine.begin() as conn:
            replaced = await swap_network(conn, network, rows)
    return ImportReport(network_id=network_id, counts=counts, replaced=replaced)
