"""challenge totals: each challenge's figures per participant, kept by triggers

Summing a city-wide 30-day challenge's window on every read, even from per-day
running totals, read about 15 000 rows: p95 66-86 ms against a 50 ms target.
A challenge's window and scope never change once it is created, so its
figures are kept per participant instead:

- challenge_total: per (challenge, user) the qualifying rides in the window
  (distance, trips, active local days) and `value`, the challenge metric's
  figure, with the user's class and whether they are a citizen. Only the
  scope's members have rows (class, the school's classes, citizens for the
  city). A read is then one index range in ranking order. `paid` marks the
  participants who have their completion points once the target is reached,
  so a reached challenge's read pays only newcomers (one index probe) instead
  of re-offering the award to every participant.
- Kept by row triggers: a ride INSERT, DELETE or UPDATE of what decides whether
  and where it counts recomputes the owner's rows of the challenges whose
  window holds the ride; a class_membership change recomputes all the user's
  rows (their challenges change with their class); a new challenge is filled
  from the rides already in its window. A recomputation first locks the
  account row (FOR NO KEY UPDATE), so two writers for the same user take turns
  and the second sees the first's rides; an account being erased is skipped
  (its rows go with it by cascade). Filling a challenge locks ride and
  class_membership in SHARE mode until it commits, so no upload or class move
  in flight is missed by both the fill and its own trigger.

See docs/gamification.md.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TZ = "Europe/Brussels"
_QUALIFYING = "NOT {r}.flagged AND {r}.mode IN ('walk', 'bike') AND {r}.distance_m >= 300"
_IN_SCOPE = (
    "((c.scope = 'city' AND {citizen})"
    " OR (c.scope = 'school' AND c.school_id = (SELECT sc.school_id FROM school_class sc WHERE sc.id = {klass}))"
    " OR (c.scope = 'class' AND c.class_id = {klass}))"
)
_FIGURES = f"""
    sum(r.distance_m), count(*), count(DISTINCT (r.started_at AT TIME ZONE '{_TZ}')::date),
    CASE c.metric WHEN 'distance' THEN sum(r.distance_m) / 1000 WHEN 'trips' THEN count(*)::float8
         ELSE count(DISTINCT (r.started_at AT TIME ZONE '{_TZ}')::date)::float8 END
"""
_COLUMNS = "(challenge_id, user_id, class_id, citizen, distance_m, trips, active_days, value, paid)"

_FUNCTIONS = f"""
CREATE FUNCTION challenge_total_user(uid uuid, at timestamptz) RETURNS void LANGUAGE plpgsql AS $$
-- Recompute the user's rows of the challenges whose window holds `at` (NULL: of every challenge).
DECLARE
    place record;
    paid_in uuid[];  -- the challenges whose completion points the user already has: stays so
BEGIN
    IF at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM challenge c WHERE c.starts_at <= at AND at < c.ends_at) THEN
        RETURN;  -- no challenge runs then: the common case, and no lock taken
    END IF;
    PERFORM 1 FROM app_user WHERE id = uid FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;  -- the account is being erased: its rows go with it
    END IF;
    SELECT * INTO place FROM standing_place(uid);
    SELECT coalesce(array_agg(t.challenge_id), '{{}}') INTO paid_in FROM challenge_total t
    WHERE t.user_id = uid AND t.paid;
    DELETE FROM challenge_total t USING challenge c
    WHERE t.user_id = uid AND c.id = t.challenge_id
      AND (at IS NULL OR (c.starts_at <= at AND at < c.ends_at));
    INSERT INTO challenge_total {_COLUMNS}
    SELECT c.id, uid, place.class_id, place.citizen, {_FIGURES}, c.id = ANY(paid_in)
    FROM challenge c
    JOIN ride r ON r.user_id = uid AND r.started_at >= c.starts_at AND r.started_at < c.ends_at
               AND {_QUALIFYING.format(r="r")}
    WHERE (at IS NULL OR (c.starts_at <= at AND at < c.ends_at))
      AND {_IN_SCOPE.format(citizen="place.citizen", klass="place.class_id")}
    GROUP BY c.id, c.metric;
END $$;

CREATE FUNCTION challenge_total_fill(cid uuid) RETURNS void LANGUAGE plpgsql AS $$
-- (Re)fill one challenge's rows from the rides in its window, for the members of its scope.
BEGIN
    LOCK TABLE ride, class_membership IN SHARE MODE;
    DELETE FROM challenge_total WHERE challenge_id = cid;
    INSERT INTO challenge_total {_COLUMNS}
    SELECT c.id, r.user_id, m.class_id, u.role = 'citizen', {_FIGURES}, false
    FROM challenge c
    JOIN ride r ON r.started_at >= c.starts_at AND r.started_at < c.ends_at AND {_QUALIFYING.format(r="r")}
    JOIN app_user u ON u.id = r.user_id
    LEFT JOIN class_membership m ON m.user_id = r.user_id
    WHERE c.id = cid AND {_IN_SCOPE.format(citizen="u.role = 'citizen'", klass="m.class_id")}
    GROUP BY c.id, c.metric, r.user_id, m.class_id, u.role;
END $$;

CREATE FUNCTION challenge_total_ride_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND {_QUALIFYING.format(r="OLD")} THEN
        PERFORM challenge_total_user(OLD.user_id, OLD.started_at);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND {_QUALIFYING.format(r="NEW")} THEN
        PERFORM challenge_total_user(NEW.user_id, NEW.started_at);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION challenge_total_class_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM challenge_total_user(OLD.user_id, NULL);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id) THEN
        PERFORM challenge_total_user(NEW.user_id, NULL);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION challenge_total_challenge_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM challenge_total_fill(NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER challenge_total_ride_apply
    AFTER INSERT OR DELETE OR UPDATE OF user_id, mode, distance_m, started_at, flagged ON ride
    FOR EACH ROW EXECUTE FUNCTION challenge_total_ride_apply();

-- named to fire after standing_class_apply (triggers fire in name order): that one takes the
-- account row FOR UPDATE first, so this one's weaker lock never has to be strengthened later
CREATE TRIGGER standing_class_challenge_apply
    AFTER INSERT OR DELETE OR UPDATE OF class_id, user_id ON class_membership
    FOR EACH ROW EXECUTE FUNCTION challenge_total_class_apply();

CREATE TRIGGER challenge_total_challenge_apply
    AFTER INSERT OR UPDATE OF scope, school_id, class_id, metric, starts_at, ends_at ON challenge
    FOR EACH ROW EXECUTE FUNCTION challenge_total_challenge_apply();
"""

def _statements(script: str) -> list[str]:
    """One statement at a time (asyncpg prepares each); statements end with ';' and a blank line."""
    return [s.strip() for s in script.split(";\n\n") if s.strip()]


def upgrade() -> None:
    op.create_table(
        "challenge_total",
        sa.Column("challenge_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("class_id", sa.Uuid(), nullable=True),
        sa.Column("citizen", sa.Boolean(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("paid", sa.Boolean(), nullable=False),
        sa.CheckConstraint("trips > 0 AND active_days > 0", name="ck_challenge_total_counts"),
        sa.ForeignKeyConstraint(["challenge_id"], ["challenge.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("challenge_id", "user_id"),
    )
    op.create_index(
        "ix_challenge_total_rank",
        "challenge_total",
        ["challenge_id", sa.literal_column("value DESC")],
        unique=False,
        postgresql_include=["user_id", "class_id", "citizen"],
    )
    op.create_index("ix_challenge_total_user", "challenge_total", ["user_id"], unique=False)
    op.create_index(
        "ix_challenge_total_unpaid",
        "challenge_total",
        ["challenge_id"],
        unique=False,
        postgresql_where=sa.text("NOT paid"),
    )
    for statement in _statements(_FUNCTIONS):
        op.execute(statement)
    op.execute("SELECT challenge_total_fill(id) FROM challenge")


def downgrade() -> None:
    for statement in (
        "DROP TRIGGER challenge_total_challenge_apply ON challenge",
        "DROP TRIGGER standing_class_challenge_apply ON class_membership",
        "DROP TRIGGER challenge_total_ride_apply ON ride",
        "DROP FUNCTION challenge_total_challenge_apply()",
        "DROP FUNCTION challenge_total_class_apply()",
        "DROP FUNCTION challenge_total_ride_apply()",
        "DROP FUNCTION challenge_total_fill(uuid)",
        "DROP FUNCTION challenge_total_user(uuid, timestamptz)",
    ):
        op.execute(statement)
    op.drop_index("ix_challenge_total_unpaid", table_name="challenge_total")
    op.drop_index("ix_challenge_total_user", table_name="challenge_total")
    op.drop_index("ix_challenge_total_rank", table_name="challenge_total")
    op.drop_table("challenge_total")
