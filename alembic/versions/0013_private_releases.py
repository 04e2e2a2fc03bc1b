"""private releases: every figure that leaves the system is a cached, differentially private release

privacy_release holds each release once (dataset, window, resolution unique),
with the parameters and OpenDP calibration it was made with and what it
cost; privacy_release_value its noisy figures per shown cell (or cell pair);
privacy_ledger the privacy loss charged to each calendar month the release
touches, which the monthly budget is read from. See docs/privacy.md.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_release",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dataset", sa.String(length=16), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("resolution", sa.SmallInteger(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("calibration", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("key_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.CheckConstraint("dataset IN ('cells', 'flows')", name="ck_privacy_release_dataset"),
        sa.ForeignKeyConstraint(["actor_id"], ["app_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset", "first_day", "last_day", "resolution", name="uq_privacy_release_window"),
    )
    op.create_table(
        "privacy_release_value",
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("cell", sa.BigInteger(), nullable=False),
        sa.Column("to_cell", sa.BigInteger(), nullable=False),
        sa.Column("contributors", sa.Integer(), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("near_misses", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["privacy_release.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("release_id", "cell", "to_cell"),
    )
    op.create_table(
        "privacy_ledger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["privacy_release.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_privacy_ledger_month", "privacy_ledger", ["month"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_privacy_ledger_month", table_name="privacy_ledger")
    op.drop_table("privacy_ledger")
    op.drop_table("privacy_release_value")
    op.drop_table("privacy_release")
