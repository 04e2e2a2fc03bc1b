"""graphhopper export: the export audit log names the GraphHopper custom model export

A planner's ``GET /planner/graphhopper-model`` sends the release's danger as a
GraphHopper custom model (docs/streets.md); like every export it is
audit-logged, so the log's kind check admits it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 22:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint("ck_export_audit_kind", "export_audit", type_="check")
    op.create_check_constraint(
        "ck_export_audit_kind",
        "export_audit",
        "kind IN ('heatmap', 'flows', 'route-report', 'graphhopper')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM export_audit WHERE kind = 'graphhopper'")
    op.drop_constraint("ck_export_audit_kind", "export_audit", type_="check")
    op.create_check_constraint(
        "ck_export_audit_kind", "export_audit", "kind IN ('heatmap', 'flows', 'route-report')"
    )
