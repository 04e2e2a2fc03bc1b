"""The street network as a basemap: the segments in a box, a page at a time, in segment-id order.

The planner map draws the imported streets under its hexagons from this service's own data
(docs/planner-map.md). Street geometry is the city's OpenStreetMap extract: public data, no
person in it. A worker keeps one small index per network (the bounding box of every segment,
four float32 per segment: 16 MB for a country's million segments) and reads the geometry of
the segments a box selects by primary key. The index is rebuilt when another network was
imported (a new id), so no migration or spatial index is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from domain.streets.store import NetworkInfo, active_network
from geo.cells import BBox

MAX_BBOX_KM2: Final = 60.0
"""The largest box one request may ask for: a district or a small city (the demo city is 11 km²)."""
MAX_LIMIT: Final = 5000
DEFAULT_LIMIT: Final = 2000

_BOXES = sa.text(
    """
    SELECT id,
           (SELECT min(x) FROM unnest(lons) x), (SELECT min(y) FROM unnest(lats) y),
           (SELECT max(x) FROM unnest(lons) x), (SELECT max(y) FROM unnest(lats) y)
    FROM street_segment WHERE network_id = :network ORDER BY id
    """
)
_BY_ID = sa.text(
    """
    SELECT id, lons, lats, length_m, NULLIF(name, '') AS name, highway, infrastructure, maxspeed_kmh,
           bicycle_forward, bicycle_backward, foot
    FROM street_segment WHERE network_id = :network AND id = ANY(:ids) ORDER BY id
    """
)


@dataclass(frozen=True, slots=True)
class SegmentBoxes:
    """Every segment's bounding box, as columns in id order (float32, widened by one ulp-ish margin)."""

    network: NetworkInfo
    ids: npt.NDArray[np.int64]
    west: npt.NDArray[np.float32]
    south: npt.NDArray[np.float32]
    east: npt.NDArray[np.float32]
    north: npt.NDArray[np.float32]

    @classmethod
    def build(
        cls, network: NetworkInfo, rows: Sequence[tuple[int, float, float, float, float]]
    ) -> SegmentBoxes:
        table = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        margin = 1e-6  # float32 keeps ~0.1 m at 180°: widen so that no segment touching a box is lost
        return cls(
            network=network,
            ids=table[:, 0].astype(np.int64),
            west=(table[:, 1] - margin).astype(np.float32),
            south=(table[:, 2] - margin).astype(np.float32),
            east=(table[:, 3] + margin).astype(np.float32),
            north=(table[:, 4] + margin).astype(np.float32),
        )

    def extent(self) -> tuple[float, float, float, float] | None:
        """``(west, south, east, north)`` of the whole network, or None when it has no segment."""
        if len(self.ids) == 0:
            return None
        return (
            float(self.west.min()),
            float(self.south.min()),
            float(self.east.max()),
            float(self.north.max()),
        )

    def select(self, box: BBox, *, after: int, limit: int) -> tuple[list[int], bool]:
        """Ids of the segments whose box meets ``box``, above ``after``, at most ``limit``; and whether
        more follow (keyset paging: a page is the same whatever was read before it)."""
        hit = (
            (self.east >= box.min_lon)
            & (self.west <= box.max_lon)
            & (self.north >= box.min_lat)
            & (self.south <= box.max_lat)
            & (self.ids > after)
        )
        found = self.ids[hit]
        return [int(i) for i in found[:limit]], len(found) > limit


@dataclass(frozen=True, slots=True)
class StreetPage:
    network: NetworkInfo | None
    features: list[dict[str, Any]]
    next_cursor: int | None


class BasemapIndex:
    """A worker's index of the active network, rebuilt when a new network was imported."""

    def __init__(self) -> None:
        self._boxes: SegmentBoxes | None = None

    async def boxes(self, session: AsyncSession) -> SegmentBoxes | None:
        network = await active_network(session)
        if network is None:
            self._boxes = None
            return None
        if self._boxes is None or self._boxes.network.id != network.id:
            rows = [tuple(r) for r in await session.execute(_BOXES, {"network": network.id})]
            self._boxes = SegmentBoxes.build(network, rows)
        return self._boxes

    async def page(self, session: AsyncSession, box: BBox, *, after: int, limit: int) -> StreetPage:
        """The segments meeting ``box`` as GeoJSON features (``[lon, lat]``), in id order."""
        boxes = await self.boxes(session)
        if boxes is None:
            return StreetPage(network=None, features=[], next_cursor=None)
        ids, more = boxes.select(box, after=after, limit=limit)
        rows = (await session.execute(_BY_ID, {"network": boxes.network.id, "ids": ids})).all() if ids else []
        features = [_feature(row) for row in rows]
        return StreetPage(network=boxes.network, features=features, next_cursor=ids[-1] if more else None)


def _feature(row: Any) -> dict[str, Any]:
    coordinates = [[round(x, 6), round(y, 6)] for x, y in zip(row.lons, row.lats, strict=True)]
    return {
        "type": "Feature",
        "id": int(row.id),
        "geometry": {"type": "LineString", "coordinates": coordinates},
        "properties": {
            "name": row.name,
            "highway": row.highway,
            "infrastructure": row.infrastructure,
            "maxspeedKmh": row.maxspeed_kmh,
            "lengthM": round(float(row.length_m), 1),
            "bicycleForward": bool(row.bicycle_forward),
            "bicycleBackward": bool(row.bicycle_backward),
            "foot": bool(row.foot),
        },
    }
