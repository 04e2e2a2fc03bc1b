"""partitioned history: ride cell paths and the per-day aggregates are range-partitioned by month

ride_cell, cell_exposure and cell_transition grow by every upload and were
only ever trimmed row by row: the retention job deleted a year-old day of
cell paths one batch at a time, and every window read walked indexes over
all of history. Each becomes a table natively partitioned by UTC calendar
month (PostgreSQL declarative RANGE partitioning): the aggregates by ``day``,
the cell paths by their ride's ``started_at``, copied into a new column
(a ride's start never changes) because the partition key must be a column
of the table and part of its primary key. The primary keys become
(ride_id, seq, started_at); the aggregates' keys already held ``day``, so
the upserts' ON CONFLICT targets stay as they were.

Every row is kept: the old table is renamed, the partitioned one is created
with the same columns, constraints and foreign keys, with a partition for
each month from the oldest row's to the newest's and a default partition
for any other month, then filled with INSERT ... SELECT and the old one
dropped. The service makes the months ahead (``domain.core.partition_store``).
The downgrade copies everything back into plain tables.

Frozen as of this revision: the partitions' names (``<table>_pYYYY_MM``,
``<table>_default``) and bounds are spelled out here, not imported from the
service's modules, so that a later change there cannot change what this
migration did.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 21:30:00.000000
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None



@dataclass(frozen=True)
class PartitionedTable:
    name: str
    column: str
    instant: bool = False

    def bound(self, month: date) -> str:
        return f"'{month.isoformat()} 00:00:00+00'" if self.instant else f"'{month.isoformat()}'"


RIDE_CELL = PartitionedTable("ride_cell", "started_at", instant=True)
CELL_EXPOSURE = PartitionedTable("cell_exposure", "day")
CELL_TRANSITION = PartitionedTable("cell_transition", "day")


def _next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def _months(first: date, last: date) -> Iterator[date]:
    month, stop = date(first.year, first.month, 1), date(last.year, last.month, 1)
    while month <= stop:
        yield month
        month = _next_month(month)


def default_statement(table: PartitionedTable) -> str:
    return f"CREATE TABLE {table.name}_default PARTITION OF {table.name} DEFAULT"


def create_statement(table: PartitionedTable, month: date) -> str:
    return (
        f"CREATE TABLE {table.name}_p{month.year:04d}_{month.month:02d} PARTITION OF {table.name}"
        f" FOR VALUES FROM ({table.bound(month)}) TO ({table.bound(_next_month(month))})"
    )


# constraint names as the tables had them (a foreign key or check is named per table: the old and
# the new table may hold the same names while both exist; an index name may not, hence *_plain_pkey)
_COLUMNS = {
    "ride_cell": """
      ride_id uuid NOT NULL CONSTRAINT ride_cell_ride_id_fkey REFERENCES ride (id) ON DELETE CASCADE,
      seq integer NOT NULL,
      cell bigint NOT NULL,
      segment smallint NOT NULL,
      offset_s integer NOT NULL,
      speed_mps real NOT NULL,
      filled boolean NOT NULL""",
    "cell_exposure": """
      cell bigint NOT NULL,
      day date NOT NULL,
      mode varchar(8) NOT NULL,
      user_id uuid NOT NULL CONSTRAINT cell_exposure_user_id_fkey REFERENCES app_user (id) ON DELETE CASCADE,
      rides integer NOT NULL,
      CONSTRAINT ck_cell_exposure_mode CHECK (mode IN ('walk', 'bike')),
      CONSTRAINT ck_cell_exposure_rides CHECK (rides > 0)""",
    "cell_transition": """
      from_cell bigint NOT NULL,
      to_cell bigint NOT NULL,
      day date NOT NULL,
      mode varchar(8) NOT NULL,
      user_id uuid NOT NULL CONSTRAINT cell_transition_user_id_fkey
        REFERENCES app_user (id) ON DELETE CASCADE,
      traversals integer NOT NULL,
      CONSTRAINT ck_cell_transition_mode CHECK (mode IN ('walk', 'bike')),
      CONSTRAINT ck_cell_transition_traversals CHECK (traversals > 0)""",
}
_KEYS = {
    "ride_cell": ("ride_id, seq", "ride_id, seq, started_at"),
    "cell_exposure": ("user_id, day, mode, cell", "user_id, day, mode, cell"),
    "cell_transition": ("user_id, day, mode, from_cell, to_cell", "user_id, day, mode, from_cell, to_cell"),
}
_PLAIN_COLUMNS = {
    "ride_cell": "ride_id, seq, cell, segment, offset_s, speed_mps, filled",
    "cell_exposure": "cell, day, mode, user_id, rides",
    "cell_transition": "from_cell, to_cell, day, mode, user_id, traversals",
}


def _data_months(table: PartitionedTable, source: str) -> list[date]:
    """Every month from the oldest row's to the newest's in ``source`` (the old table)."""
    if table is RIDE_CELL:
        span = f"SELECT min(r.started_at AT TIME ZONE 'UTC')::date, max(r.started_at AT TIME ZONE 'UTC')::date FROM {source} c JOIN ride r ON r.id = c.ride_id"  # noqa: E501, S608
    else:
        span = f"SELECT min({table.column}), max({table.column}) FROM {source}"  # noqa: S608
    first, last = op.get_bind().execute(sa.text(span)).one()
    return [] if first is None else list(_months(first, last))


def _partitioned(table: PartitionedTable) -> None:
    name, old = table.name, f"{table.name}_plain"
    op.execute(f"ALTER TABLE {name} RENAME TO {old}")
    op.execute(f"ALTER TABLE {old} RENAME CONSTRAINT {name}_pkey TO {old}_pkey")
    extra = ",\n      started_at timestamptz NOT NULL" if table is RIDE_CELL else ""
    op.execute(
        f"CREATE TABLE {name} ({_COLUMNS[name]}{extra},"
        f" CONSTRAINT {name}_pkey PRIMARY KEY ({_KEYS[name][1]}))"
        f" PARTITION BY RANGE ({table.column})"
    )
    op.execute(default_statement(table))
    for month in _data_months(table, old):
        op.execute(create_statement(table, month))
    columns = _PLAIN_COLUMNS[name]
    if table is RIDE_CELL:
        selected = ", ".join(f"c.{c.strip()}" for c in columns.split(","))
        op.execute(
            f"INSERT INTO {name} ({columns}, started_at)"  # noqa: S608
            f" SELECT {selected}, r.started_at FROM {old} c JOIN ride r ON r.id = c.ride_id"
        )
    else:
        op.execute(f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {old}")  # noqa: S608
    op.execute(f"DROP TABLE {old}")
    op.execute(f"ANALYZE {name}")


def _plain(table: PartitionedTable) -> None:
    name, new = table.name, f"{table.name}_plain"
    op.execute(f"CREATE TABLE {new} ({_COLUMNS[name]}, CONSTRAINT {new}_pkey PRIMARY KEY ({_KEYS[name][0]}))")
    columns = _PLAIN_COLUMNS[name]
    op.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {name}")  # noqa: S608
    op.execute(f"DROP TABLE {name}")  # the parent and every partition
    op.execute(f"ALTER TABLE {new} RENAME TO {name}")
    op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT {new}_pkey TO {name}_pkey")
    op.execute(f"ANALYZE {name}")


def upgrade() -> None:
    for table in (RIDE_CELL, CELL_EXPOSURE, CELL_TRANSITION):
        _partitioned(table)


def downgrade() -> None:
    for table in (RIDE_CELL, CELL_EXPOSURE, CELL_TRANSITION):
        _plain(table)
