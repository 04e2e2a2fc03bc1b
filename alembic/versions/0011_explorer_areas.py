"""explorer areas: the neighbourhoods a rider's qualifying trips passed through, kept while the badge is open

The explorer badge (25 distinct H3 resolution-8 areas) was checked on every
qualifying upload by counting distinct parents over every stored cell of the
rider's history: 11.7 ms for a rider with 300 rides, 40.9 ms with 1,000
(bench/badges.py), without end for a commuter who never reaches 25 areas.

explorer_area keeps, per user and resolution, each area their qualifying
rides passed through and how many did. The upload adds its ride's areas, a
ride deletion takes them away again, and the rows go once the badge is
earned (nothing needs them then). This migration fills it for everyone who
does not hold the badge yet, from the cells still stored (minimum trip of
300 m, as the point rules say). See docs/gamification.md.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 17:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARENT_8 = "((c.cell & ~(15::bigint << 52)) | (8::bigint << 52) | 2097151::bigint)"


def upgrade() -> None:
    op.create_table(
        "explorer_area",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("resolution", sa.SmallInteger(), nullable=False),
        sa.Column("area", sa.BigInteger(), nullable=False),
        sa.Column("rides", sa.Integer(), nullable=False),
        sa.CheckConstraint("rides > 0", name="ck_explorer_area_rides"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "resolution", "area"),
    )
    op.execute(
        f"""
        INSERT INTO explorer_area (user_id, resolution, area, rides)
        SELECT r.user_id, 8, {_PARENT_8}, count(DISTINCT r.id)
        FROM ride r JOIN ride_cell c ON c.ride_id = r.id
        WHERE NOT r.flagged AND r.mode IN ('walk', 'bike') AND r.distance_m >= 300
          AND ((c.cell >> 52) & 15) >= 8
          AND NOT EXISTS (SELECT 1 FROM badge_award b WHERE b.user_id = r.user_id AND b.code = 'explorer')
        GROUP BY 1, 3
        """  # noqa: S608 - a constant fragment
    )


def downgrade() -> None:
    op.drop_table("explorer_area")
