"""standing totals: per-user running totals behind the leaderboards and challenge standings

Reading a city's leaderboard from the raw ledger (1 000 000 rows) or from the
rides of a 30-day window cost 150-350 ms; issue 7 asks for a p95 under 50 ms.
Two tables keep per-user totals up to date in the transaction of their cause,
through row triggers (they also fire for foreign-key cascades, so a deleted
ride or an erased account leaves nothing stale and no application code can
forget them):

- points_period_total: points per user per local week (Monday first) and
  month, from points_entry INSERT/DELETE;
- ride_period_total: qualifying rides (unflagged, walked or cycled, at least
  300 m: PointRules' default min_trip_m) per user per local day and month:
  distance, trips, active days; from ride INSERT/DELETE/UPDATE of the columns
  that decide whether and where a ride counts.

Each row also carries the user's class (class_id) and whether the account is a
citizen, kept by a trigger on class_membership, so a team's figures are a
GROUP BY over these rows and no standing joins 20 000 roster rows. Rows whose
figures fall to zero are deleted. The upgrade backfills both tables from the
existing rows; the downgrade drops them. See docs/gamification.md.

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

_TZ = "Europe/Brussels"
_MIN_TRIP_M = 300
_QUALIFYING = f"NOT {{r}}.flagged AND {{r}}.mode IN ('walk', 'bike') AND {{r}}.distance_m >= {_MIN_TRIP_M}"

_FUNCTIONS = f"""
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

CREATE FUNCTION ride_period_total_add(uid uuid, started_at timestamptz, distance double precision, sign integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    local_day date := (started_at AT TIME ZONE '{_TZ}')::date;
    local_month date := date_trunc('month', started_at AT TIME ZONE '{_TZ}')::date;
    place record;
    trips_left integer;
    new_day integer;
    day_gone integer;
BEGIN
    IF sign > 0 THEN
        SELECT * INTO place FROM standing_place(uid);
        INSERT INTO ride_period_total AS t
            (user_id, period, starts_on, class_id, citizen, distance_m, trips, active_days)
        VALUES (uid, 'day', local_day, place.class_id, place.citizen, distance, 1, 1)
        ON CONFLICT (user_id, period, starts_on)
        DO UPDATE SET distance_m = t.distance_m + EXCLUDED.distance_m, trips = t.trips + 1
        RETURNING t.trips INTO trips_left;
        new_day := (trips_left = 1)::integer;
        INSERT INTO ride_period_total AS t
            (user_id, period, starts_on, class_id, citizen, distance_m, trips, active_days)
        VALUES (uid, 'month', local_month, place.class_id, place.citizen, distance, 1, 1)
        ON CONFLICT (user_id, period, starts_on)
        DO UPDATE SET distance_m = t.distance_m + EXCLUDED.distance_m, trips = t.trips + 1,
                      active_days = t.active_days + new_day;
    ELSE
        DELETE FROM ride_period_total WHERE user_id = uid AND period = 'day' AND starts_on = local_day AND trips <= 1;
        day_gone := FOUND::integer;
        IF NOT FOUND THEN
            UPDATE ride_period_total SET distance_m = distance_m - distance, trips = trips - 1
            WHERE user_id = uid AND period = 'day' AND starts_on = local_day;
            IF NOT FOUND THEN
                RETURN;  -- already gone with the account (cascade)
            END IF;
        END IF;
        DELETE FROM ride_period_total
        WHERE user_id = uid AND period = 'month' AND starts_on = local_month AND trips <= 1;
        IF NOT FOUND THEN
            UPDATE ride_period_total
            SET distance_m = distance_m - distance, trips = trips - 1, active_days = active_days - day_gone
            WHERE user_id = uid AND period = 'month' AND starts_on = local_month;
        END IF;
    END IF;
END $$;

CREATE FUNCTION ride_period_total_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND {_QUALIFYING.format(r="OLD")} THEN
        PERFORM ride_period_total_add(OLD.user_id, OLD.started_at, OLD.distance_m, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND {_QUALIFYING.format(r="NEW")} THEN
        PERFORM ride_period_total_add(NEW.user_id, NEW.started_at, NEW.distance_m, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION standing_place_set(uid uuid, new_class uuid) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- Waits for the user's in-flight awards and uploads (their foreign-key checks hold KEY SHARE on
    -- the account) and makes later ones wait for this commit: none keeps a class it read before.
    PERFORM 1 FROM app_user WHERE id = uid FOR UPDATE;
    UPDATE points_period_total SET class_id = new_class
    WHERE user_id = uid AND class_id IS DISTINCT FROM new_class;
    UPDATE ride_period_total SET class_id = new_class
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

CREATE TRIGGER ride_period_total_apply
    AFTER INSERT OR DELETE OR UPDATE OF user_id, mode, distance_m, started_at, flagged ON ride
    FOR EACH ROW EXECUTE FUNCTION ride_period_total_apply();

CREATE TRIGGER standing_class_apply AFTER INSERT OR DELETE OR UPDATE OF class_id, user_id ON class_membership
    FOR EACH ROW EXECUTE FUNCTION standing_class_apply();
"""

_BACKFILL = f"""
INSERT INTO points_period_total (user_id, period, starts_on, class_id, citizen, amount)
SELECT e.user_id, k.period, date_trunc(k.period, e.day::timestamp)::date, m.class_id, u.role = 'citizen', sum(e.amount)
FROM points_entry e
CROSS JOIN (VALUES ('week'), ('month')) AS k(period)
JOIN app_user u ON u.id = e.user_id
LEFT JOIN class_membership m ON m.user_id = e.user_id
GROUP BY e.user_id, k.period, date_trunc(k.period, e.day::timestamp)::date, m.class_id, u.role;

INSERT INTO ride_period_total (user_id, period, starts_on, class_id, citizen, distance_m, trips, active_days)
SELECT d.user_id, 'day', d.day, m.class_id, u.role = 'citizen', d.distance_m, d.trips, 1
FROM (
    SELECT r.user_id, (r.started_at AT TIME ZONE '{_TZ}')::date AS day, sum(r.distance_m) AS distance_m,
           count(*) AS trips
    FROM ride r WHERE {_QUALIFYING.format(r="r")} GROUP BY 1, 2
) d
JOIN app_user u ON u.id = d.user_id
LEFT JOIN class_membership m ON m.user_id = d.user_id;

INSERT INTO ride_period_total (user_id, period, starts_on, class_id, citizen, distance_m, trips, active_days)
SELECT user_id, 'month', date_trunc('month', starts_on::timestamp)::date, class_id, citizen, sum(distance_m), sum(trips),
       count(*)
FROM ride_period_total WHERE period = 'day'
GROUP BY user_id, date_trunc('month', starts_on::timestamp)::date, class_id, citizen;
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
    op.create_table(
        "ride_period_total",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=5), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("class_id", sa.Uuid(), nullable=True),
        sa.Column("citizen", sa.Boolean(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.CheckConstraint("period IN ('day', 'month')", name="ck_ride_period_total_period"),
        sa.CheckConstraint("trips > 0 AND active_days > 0", name="ck_ride_period_total_counts"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "period", "starts_on"),
    )
    op.create_index(
        "ix_ride_period_total_period",
        "ride_period_total",
        ["period", "starts_on"],
        unique=False,
        postgresql_include=["user_id", "class_id", "citizen", "distance_m", "trips", "active_days"],
    )
    for script in (_FUNCTIONS, _BACKFILL):
        for statement in _statements(script):
            op.execute(statement)


def downgrade() -> None:
    for statement in (
        "DROP TRIGGER standing_class_apply ON class_membership",
        "DROP TRIGGER ride_period_total_apply ON ride",
        "DROP TRIGGER points_period_total_apply ON points_entry",
        "DROP FUNCTION standing_class_apply()",
        "DROP FUNCTION standing_place_set(uuid, uuid)",
        "DROP FUNCTION ride_period_total_apply()",
        "DROP FUNCTION ride_period_total_add(uuid, timestamptz, double precision, integer)",
        "DROP FUNCTION points_period_total_apply()",
        "DROP FUNCTION standing_place(uuid)",
    ):
        op.execute(statement)
    op.drop_index("ix_ride_period_total_period", table_name="ride_period_total")
    op.drop_table("ride_period_total")
    op.drop_index("ix_points_period_total_class", table_name="points_period_total")
    op.drop_index("ix_points_period_total_rank", table_name="points_period_total")
    op.drop_table("points_period_total")
