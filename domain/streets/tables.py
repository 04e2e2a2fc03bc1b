"""The imported street network: one row per import, and its segments between junctions.

A re-import inserts a new ``street_network`` row and its segments, then deletes the old row (its
segments go by cascade), all in one transaction: readers see the old network or the new one,
never a mix. Coordinates are WGS84 degrees, ``lons``/``lats`` in the way's node order.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from domain.core.columns import timestamp
from domain.streets.rules import Infrastructure


def _in(values: type[Infrastructure]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class StreetNetwork(SQLModel, table=True):
    """One imported extract: where it came from, when, and what it holds."""

    __tablename__ = "street_network"

    id: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True))
    source: str = Field(max_length=255)
    imported_at: datetime = timestamp()
    segment_count: int
    way_count: int
    length_m: float


class StreetSegment(SQLModel, table=True):
    """A stretch of one OSM way between two junctions (or a junction and the way's end)."""

    __tablename__ = "street_segment"
    __table_args__ = (
        sa.CheckConstraint(f"infrastructure IN ({_in(Infrastructure)})", name="ck_street_segment_infra"),
        sa.CheckConstraint(
            "cardinality(lons) = cardinality(lats) AND cardinality(lons) >= 2",
            name="ck_street_segment_coords",
        ),
    )

    network_id: int = Field(
        sa_column=sa.Column(
            sa.BigInteger, sa.ForeignKey("street_network.id", ondelete="CASCADE"), primary_key=True
        )
    )
    id: int = Field(sa_type=sa.Integer, primary_key=True)
    way_id: int = Field(sa_type=sa.BigInteger)
    from_node: int = Field(sa_type=sa.BigInteger)
    to_node: int = Field(sa_type=sa.BigInteger)
    lons: list[float] = Field(sa_column=sa.Column(ARRAY(sa.Float(precision=53)), nullable=False))
    lats: list[float] = Field(sa_column=sa.Column(ARRAY(sa.Float(precision=53)), nullable=False))
    length_m: float
    name: str | None = Field(default=None, max_length=255)
    highway: str = Field(max_length=32)
    bicycle_forward: bool
    bicycle_backward: bool
    foot: bool
    infrastructure: str = Field(max_length=16)
    maxspeed_kmh: int | None = Field(default=None, sa_type=sa.SmallInteger)
    maxspeed_tagged: bool
    surface: str | None = Field(default=None, max_length=64)
    lit: bool | None = None
