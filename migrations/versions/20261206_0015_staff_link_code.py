"""one-time codes that link a staff member's Telegram account

- `staff_link_code`: the SHA-256 of a code shown on the profile page, its staff user, when it
  expires and when it was used (shared/staff/linking.py).

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_link_code",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_user.id"], name=op.f("fk_staff_link_code_user_id_staff_user")),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_staff_link_code")),
    )
    op.create_index(op.f("ix_staff_link_code_user_id"), "staff_link_code", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_link_code_user_id"), table_name="staff_link_code")
    op.drop_table("staff_link_code")
