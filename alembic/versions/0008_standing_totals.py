"""standing totals: per-user points per week and month behind the leaderboards

Reading a city's leaderboard from the raw ledger (1 000 000 rows) cost
150-350 ms; issue 7 asks for a p95 under 50 ms. points_period_total keeps
each user's points per local week (Monday first) and month up to date in the
transaction of every points_entry INSERT or DELETE, through a row trigger (it
also fires for foreign-key cascades, so an erased account leaves nothing
stale and no application code can forget it).

Each row also carries the user's class (class_id) and whether the account is a
citizen, kept by a trigger on class_membership, so a team's figures are a
GROUP BY over these rows and no standing joins 20 000 roster rows. Rows whose
amount falls to zero are deleted. The upgrade backfills the table from the
ledger; the downgrade drops it. Challenges have totals of their own
(migration 0009). See docs/gamification.md.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = """
CREATE FUNCTION standing_place(uid uuid, OUT class_id uuid, OUT citizen boolean) LANGUAGE sql STABLE AS $$
    SELECT (SELECT m.class_id FROM class_membership m WHERE m.user_id = uid),
           coalesce((SELECT u.role = 'citizen' FROM app_user u WHERE u.id = uid), false)
$$;

CREATE FUNCTION points_period_total_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    e points_entry := CASE WHEN TG_OP = 'INSERT' THEN NEW ELSE OLD END;
    place record;
    kind text;
    start date;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT * INTO place FROM standing_place(e.user_id);
    END IF;
    FOREACH kind IN ARRAY ARRAY['week', 'month'] LOOP
        start := date_trunc(kind, e.day::timestamp)::date;
        IF TG_OP = 'INSERT' THEN
            INSERT INTO points_period_total AS t (user_id, period, starts_on, class_id, citizen, amount)
            VALUES (e.user_id, kind, start, place.class_id, place.citizen, e.amount)
            ON CONFLICT (user_id, period, starts_on) DO UPDATE SET amount = t.amount + EXCLUDED.amount;
        ELSE
            DELETE FROM points_period_total
            WHERE user_id = e.user_id AND period = kind AND starts_on = start AND amount <= e.amount;
            IF NOT FOUND THEN
                UPDATE points_period_total SET amount = amount - e.amount
                WHERE user_id = e.user_id AND period = kind AND starts_on = start;
            END IF;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE FUNCTION standing_place_set(uid uuid, new_class uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for the user's in-flight awards and uploads (their foreign-key checks hold KEY SHARE on
    -- the account) and makes later ones wait for this commit: none keeps a class it read before.
    PERFORM 1 FROM app_user WHERE id = uid FOR UPDATE;
    UPDATE points_period_total SET class_id = new_class
    WHERE user_id = uid AND class_id IS DISTINCT FROM new_class;
END $$;

CREATE FUNCTION standing_class_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM standing_place_set(OLD.user_id, NULL);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM standing_place_set(NEW.user_id, NEW.class_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER points_period_total_apply AFTER INSERT OR DELETE ON points_entry
    FOR EACH ROW EXECUTE FUNCTION points_period_total_apply();

CREATE TRIGGER standing_class_apply AFTER INSERT OR DELETE OR UPDATE OF class_id, user_id ON class_membership
    FOR EACH ROW EXECUTE FUNCTION standing_class_apply();
"""

_BACKFILL = """
INSERT INTO points_period_total (user_id, period, starts_on, class_id, citizen, amount)
SELECT e.user_id, k.period, date_trunc(k.period, e.day::timestamp)::date, m.class_id, u.role = 'citizen',
       sum(e.amount)
FROM points_entry e
CROSS JOIN (VALUES ('week'), ('month')) AS k(period)
JOIN app_user u ON u.id = e.user_id
LEFT JOIN class_membership m ON m.user_id = e.user_id
GROUP BY e.user_id, k.period, date_trunc(k.period, e.day::timestamp)::date, m.class_id, u.role;
"""


def _statements(script: str) -> list[str]:
    """One statement at a time (asyncpg prepares each); statements end with ';' and a blank line."""
    return [s.strip() for s in script.split(";\n\n") if s.strip()]


def upgrade() -> None:
    op.create_table(
        "points_period_total",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("class_id", sa.Uuid(), nullable=True),
        sa.Column("citizen", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.CheckConstraint("period IN ('week', 'month')", name="ck_points_period_total_period"),
        sa.CheckConstraint("amount > 0", name="ck_points_period_total_amount"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "period", "starts_on"),
    )
    op.create_index(
        "ix_points_period_total_rank",
        "points_period_total",
        ["period", "starts_on", sa.literal_column("amount DESC")],
        unique=False,
        postgresql_include=["user_id", "class_id", "citizen"],
    )
    op.create_index(
        "ix_points_period_total_class",
        "points_period_total",
        ["period", "starts_on", "class_id"],
        unique=False,
        postgresql_include=["user_id", "citizen", "amount"],
    )
    for script in (_FUNCTIONS, _BACKFILL):
        for statement in _statements(script):
            op.execute(statement)


def downgrade() -> None:
    for statement in (
        "DROP TRIGGER standing_class_apply ON class_membership",
        "DROP TRIGGER points_period_total_apply ON points_entry",
        "DROP FUNCTION standing_class_apply()",
        "DROP FUNCTION standing_place_set(uuid, uuid)",
        "DROP FUNCTION points_period_total_apply()",
        "DROP FUNCTION standing_place(uuid)",
    ):
        op.execute(statement)
    op.drop_index("ix_points_period_total_class", table_name="points_period_total")
    op.drop_index("ix_points_period_total_rank", table_name="points_period_total")
    op.drop_table("points_period_total")
