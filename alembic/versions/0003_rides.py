"""rides: ride summaries, cell sequences, per-user exposure and transition aggregates, privacy zones

Also adds the foreign key from `hazard_report.ride_id` to `ride.id` (ON DELETE
CASCADE: a near miss is part of the ride it was recorded on; the rides service
recounts the hazards before it deletes a ride).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 08:24:32.909278
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cell_exposure',
    sa.Column('cell', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('rides', sa.Integer(), nullable=False),
    sa.CheckConstraint("mode IN ('walk', 'bike')", name='ck_cell_exposure_mode'),
    sa.CheckConstraint('rides > 0', name='ck_cell_exposure_rides'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('cell', 'day', 'mode', 'user_id')
    )
    op.create_index('ix_cell_exposure_user', 'cell_exposure', ['user_id'], unique=False)
    op.create_table('cell_transition',
    sa.Column('from_cell', sa.BigInteger(), nullable=False),
    sa.Column('to_cell', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('traversals', sa.Integer(), nullable=False),
    sa.CheckConstraint("mode IN ('walk', 'bike')", name='ck_cell_transition_mode'),
    sa.CheckConstraint('traversals > 0', name='ck_cell_transition_traversals'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('from_cell', 'to_cell', 'day', 'mode', 'user_id')
    )
    op.create_index('ix_cell_transition_user', 'cell_transition', ['user_id'], unique=False)
    op.create_table('privacy_zone',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('radius_m', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_privacy_zone_user_id'), 'privacy_zone', ['user_id'], unique=False)
    op.create_table('ride',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('distance_m', sa.Float(), nullable=False),
    sa.Column('duration_s', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolution', sa.SmallInteger(), nullable=False),
    sa.Column('cell_count', sa.Integer(), nullable=False),
    sa.Column('segment_count', sa.SmallInteger(), nullable=False),
    sa.Column('trimmed_m', sa.Float(), nullable=False),
    sa.Column('point_count', sa.Integer(), nullable=False),
    sa.Column('kept_point_count', sa.Integer(), nullable=False),
    sa.Column('incidents_filed', sa.SmallInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode IN ('walk', 'bike', 'motorised')", name='ck_ride_mode'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ride_user_started', 'ride', ['user_id', 'started_at', 'id'], unique=False)
    op.create_table('ride_cell',
    sa.Column('ride_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('cell', sa.BigInteger(), nullable=False),
    sa.Column('segment', sa.SmallInteger(), nullable=False),
    sa.Column('offset_s', sa.Integer(), nullable=False),
    sa.Column('speed_mps', sa.REAL(), nullable=False),
    sa.Column('filled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['ride_id'], ['ride.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ride_id', 'seq')
    )
    op.create_foreign_key('hazard_report_ride_id_fkey', 'hazard_report', 'ride', ['ride_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    op.drop_constraint('hazard_report_ride_id_fkey', 'hazard_report', type_='foreignkey')
    op.drop_table('ride_cell')
    op.drop_index('ix_ride_user_started', table_name='ride')
    op.drop_table('ride')
    op.drop_index(op.f('ix_privacy_zone_user_id'), table_name='privacy_zone')
    op.drop_table('privacy_zone')
    op.drop_index('ix_cell_transition_user', table_name='cell_transition')
    op.drop_table('cell_transition')
    op.drop_index('ix_cell_exposure_user', table_name='cell_exposure')
    op.drop_table('cell_exposure')
