"""streets: the imported OpenStreetMap network, one row per import and its segments

street_network holds one imported extract; street_segment the stretches of
bicycle- or pedestrian-usable ways between junctions, with their legal
directions, infrastructure class, speed limit and geometry. A re-import adds
the new network and deletes the old one in one transaction (docs/streets.md).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "street_network",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("segment_count", sa.Integer(), nullable=False),
        sa.Column("way_count", sa.Integer(), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "street_segment",
        sa.Column("network_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("way_id", sa.BigInteger(), nullable=False),
        sa.Column("from_node", sa.BigInteger(), nullable=False),
        sa.Column("to_node", sa.BigInteger(), nullable=False),
        sa.Column("lons", postgresql.ARRAY(sa.Float(precision=53)), nullable=False),
        sa.Column("lats", postgresql.ARRAY(sa.Float(precision=53)), nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("highway", sa.String(length=32), nullable=False),
        sa.Column("bicycle_forward", sa.Boolean(), nullable=False),
        sa.Column("bicycle_backward", sa.Boolean(), nullable=False),
        sa.Column("foot", sa.Boolean(), nullable=False),
        sa.Column("infrastructure", sa.String(length=16), nullable=False),
        sa.Column("maxspeed_kmh", sa.SmallInteger(), nullable=True),
        sa.Column("maxspeed_tagged", sa.Boolean(), nullable=False),
        sa.Column("surface", sa.String(length=64), nullable=True),
        sa.Column("lit", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "infrastructure IN ('separated', 'lane', 'shared_quiet', 'none')", name="ck_street_segment_infra"
        ),
        sa.CheckConstraint(
            "cardinality(lons) = cardinality(lats) AND cardinality(lons) >= 2", name="ck_street_segment_coords"
        ),
        sa.ForeignKeyConstraint(["network_id"], ["street_network.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("network_id", "id"),
    )


def downgrade() -> None:
    op.drop_table("street_segment")
    op.drop_table("street_network")
