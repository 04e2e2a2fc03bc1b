"""hazards: hazards, their reports, confirmations and status history

One active hazard per (cell, category) is enforced by a partial unique index.
`hazard_report.ride_id` has no foreign key yet: the rides migration adds it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:17:44.810892
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('hazard',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('cell', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('confirmation_count', sa.Integer(), nullable=False),
    sa.Column('dispute_count', sa.Integer(), nullable=False),
    sa.Column('public_note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("category IN ('dangerous_crossing', 'close_pass', 'speeding', 'missing_bike_lane', 'blocked_bike_lane', 'road_surface', 'poor_visibility', 'school_gate', 'construction', 'other')", name='ck_hazard_category'),
    sa.CheckConstraint("status IN ('open', 'acknowledged', 'planned', 'resolved', 'rejected')", name='ck_hazard_status'),
    sa.CheckConstraint('report_count >= 0 AND confirmation_count >= 0 AND dispute_count >= 0', name='ck_hazard_counts'),
    sa.CheckConstraint('severity BETWEEN 1 AND 3', name='ck_hazard_severity'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_hazard_created_id', 'hazard', ['created_at', 'id'], unique=False)
    op.create_index('ix_hazard_lat_lon', 'hazard', ['lat', 'lon'], unique=False)
    op.create_index('uq_hazard_active_cell_category', 'hazard', ['cell', 'category'], unique=True, postgresql_where=sa.text("status IN ('acknowledged', 'open', 'planned')"))
    op.create_table('hazard_confirmation',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('hazard_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('still_there', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hazard_id', 'user_id', name='uq_hazard_confirmation_user')
    )
    op.create_index(op.f('ix_hazard_confirmation_user_id'), 'hazard_confirmation', ['user_id'], unique=False)
    op.create_table('hazard_report',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('hazard_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ride_id', sa.Uuid(), nullable=True),
    sa.Column('ride_offset_s', sa.Integer(), nullable=True),
    sa.CheckConstraint("category IN ('dangerous_crossing', 'close_pass', 'speeding', 'missing_bike_lane', 'blocked_bike_lane', 'road_surface', 'poor_visibility', 'school_gate', 'construction', 'other')", name='ck_hazard_report_category'),
    sa.CheckConstraint('severity BETWEEN 1 AND 3', name='ck_hazard_report_severity'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_hazard_report_hazard', 'hazard_report', ['hazard_id'], unique=False)
    op.create_index('ix_hazard_report_ride', 'hazard_report', ['ride_id'], unique=False)
    op.create_index('ix_hazard_report_user_created', 'hazard_report', ['user_id', 'created_at'], unique=False)
    op.create_table('hazard_status_change',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('hazard_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('changed_by_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('public_note', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("changed_by_role IN ('citizen', 'teacher', 'planner', 'admin')", name='ck_hazard_status_change_role'),
    sa.CheckConstraint("from_status IN ('open', 'acknowledged', 'planned', 'resolved', 'rejected')", name='ck_hazard_status_change_from'),
    sa.CheckConstraint("to_status IN ('open', 'acknowledged', 'planned', 'resolved', 'rejected')", name='ck_hazard_status_change_to'),
    sa.ForeignKeyConstraint(['changed_by'], ['app_user.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_hazard_status_change_changed_by'), 'hazard_status_change', ['changed_by'], unique=False)
    op.create_index('ix_hazard_status_change_hazard_time', 'hazard_status_change', ['hazard_id', 'changed_at'], unique=False)


def downgrade() -> None:
    op.drop_table('hazard_status_change')
    op.drop_table('hazard_report')
    op.drop_table('hazard_confirmation')
    op.drop_table('hazard')
