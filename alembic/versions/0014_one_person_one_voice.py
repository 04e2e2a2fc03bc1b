"""one person, one voice: at most one report per person and hazard

Twenty reports from one account used to join one hazard as twenty reports:
its support, severity median and "confirmed" status counted requests, not
people. Each person's reports of a hazard are merged into one: the row of
their first report (its id is what report points are keyed on) carries their
latest observation (severity, description, time, ride); the others go. A
unique constraint keeps it so, and the hazards are recounted as the service
now counts them: confirmations only from people who did not report the
hazard, and freshness from when things were observed, not uploaded.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RANKED = """
    SELECT id,
           first_value(id) OVER (PARTITION BY hazard_id, user_id ORDER BY created_at, id) AS keep_id,
           row_number() OVER (PARTITION BY hazard_id, user_id
                              ORDER BY observed_at DESC, created_at DESC, id DESC) AS newest
    FROM hazard_report
"""

_COUNTED = """
    NOT EXISTS (SELECT 1 FROM hazard_report r WHERE r.hazard_id = c.hazard_id AND r.user_id = c.user_id)
"""


def upgrade() -> None:
    op.execute(
        f"""
        WITH ranked AS ({_RANKED})
        UPDATE hazard_report k
        SET severity = n.severity, description = n.description, observed_at = n.observed_at,
            ride_id = n.ride_id, ride_offset_s = n.ride_offset_s
        FROM ranked r JOIN hazard_report n ON n.id = r.id
        WHERE r.newest = 1 AND k.id = r.keep_id AND k.id <> n.id
        """  # noqa: S608 - constant fragments
    )
    op.execute(
        f"DELETE FROM hazard_report h USING ({_RANKED}) r WHERE h.id = r.id AND r.id <> r.keep_id"  # noqa: S608
    )
    op.create_unique_constraint("uq_hazard_report_user", "hazard_report", ["hazard_id", "user_id"])
    op.execute(
        f"""
        UPDATE hazard SET
          report_count = (SELECT count(*) FROM hazard_report r WHERE r.hazard_id = hazard.id),
          severity = COALESCE((SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY r.severity DESC)
                               FROM hazard_report r WHERE r.hazard_id = hazard.id), hazard.severity),
          confirmation_count = (SELECT count(*) FROM hazard_confirmation c
                                WHERE c.hazard_id = hazard.id AND c.still_there AND {_COUNTED}),
          dispute_count = (SELECT count(*) FROM hazard_confirmation c
                           WHERE c.hazard_id = hazard.id AND NOT c.still_there AND {_COUNTED}),
          last_confirmed_at = GREATEST(
            (SELECT max(r.observed_at) FROM hazard_report r WHERE r.hazard_id = hazard.id),
            (SELECT max(c.created_at) FROM hazard_confirmation c
             WHERE c.hazard_id = hazard.id AND c.still_there AND {_COUNTED}))
        """  # noqa: S608 - constant fragments
    )


def downgrade() -> None:
    # the merged reports stay merged: their duplicates held nothing a person had not said again
    op.drop_constraint("uq_hazard_report_user", "hazard_report", type_="unique")
