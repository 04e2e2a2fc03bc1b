"""aggregate keys lead with the user: an upload's aggregate rows share a few index pages

cell_exposure and cell_transition were keyed cell first, with a second index
on user_id. An upload adds or bumps one row per visited cell and per step, in
its rider's rows of one day and mode, so cell-first keys scattered them over
the whole index: about 90 leaf pages per ride, each one a full-page image in
the WAL after a checkpoint and, once the index outgrew the shared buffers, a
read. Keyed (user_id, day, mode, ...) they share one or two leaf pages, and
the user_id index goes, as the key's prefix now serves erasure and export.
No read looked rows up by cell first: the heatmap, flows, open data and the
routing graph scan by day and by parent cells.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 23:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _primary_key(table: str, columns: str) -> None:
    op.execute(
        f"ALTER TABLE {table} DROP CONSTRAINT {table}_pkey,"
        f" ADD CONSTRAINT {table}_pkey PRIMARY KEY ({columns})"
    )


def upgrade() -> None:
    _primary_key("cell_exposure", "user_id, day, mode, cell")
    op.drop_index("ix_cell_exposure_user", table_name="cell_exposure")
    _primary_key("cell_transition", "user_id, day, mode, from_cell, to_cell")
    op.drop_index("ix_cell_transition_user", table_name="cell_transition")


def downgrade() -> None:
    op.create_index("ix_cell_transition_user", "cell_transition", ["user_id"], unique=False)
    _primary_key("cell_transition", "from_cell, to_cell, day, mode, user_id")
    op.create_index("ix_cell_exposure_user", "cell_exposure", ["user_id"], unique=False)
    _primary_key("cell_exposure", "cell, day, mode, user_id")
