"""routing: an index on ride.created_at for the routing graph's stamp

Each worker counts the rides stored since its routing graph was built (at most
every SAFEROUTES_ROUTING_CHECK_S seconds); the index makes that a range scan
over the new rides instead of a scan of every ride. No table: the stamp is
derived from the data (docs/routing.md).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:40:00.000000
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_ride_created_at', 'ride', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ride_created_at', table_name='ride')
