"""revoked logins: index the revoked refresh tokens by family

Every authenticated request now asks whether its access token's login (the
refresh-token family named by the token's ``sid`` claim) was revoked, in the
statement that reads the user. Only revoked rows are indexed, so the question
is one small index probe however many rotations a family has.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 13:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_refresh_token_revoked_family ON refresh_token (family_id) WHERE revoked_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_refresh_token_revoked_family")
