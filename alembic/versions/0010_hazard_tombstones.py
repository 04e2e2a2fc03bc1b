"""hazard tombstones: the ids of published hazards deleted with their last report, for the broker

A hazard goes when its last report does: its reporter erased their account,
or deleted the ride the report came with. The NGSI-LD context broker still
held it as an Alert, and nothing was left to say which one to delete there.
hazard_tombstone keeps the id of every published hazard deleted that way and
when (nothing else: no place, no reporter), so the push after the erasure or
the deletion sends the broker a delete, and `saferoutes ngsi-push` re-sends
the deletions of the last 30 days after an outage. Retention removes older
tombstones. See docs/open-data.md.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hazard_tombstone",
        sa.Column("hazard_id", sa.Uuid(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hazard_id"),
    )
    op.create_index("ix_hazard_tombstone_deleted_at", "hazard_tombstone", ["deleted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_hazard_tombstone_deleted_at", table_name="hazard_tombstone")
    op.drop_table("hazard_tombstone")
