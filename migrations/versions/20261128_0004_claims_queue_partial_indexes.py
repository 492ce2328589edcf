"""claims queue partial indexes

Partial indexes for the claims list's overdue and unassigned totals: an index-only count of the
late open claims (by channel and due date) and of the unassigned ones, instead of a walk over every
open claim.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 06:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_claim_open_channel_due",
        "claim",
        ["channel", "due_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('new', 'in_progress')"),
    )
    op.create_index(
        "ix_claim_unassigned",
        "claim",
        ["status", "registered_at", "id"],
        unique=False,
        postgresql_where=sa.text("responsible_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_claim_unassigned", table_name="claim", postgresql_where=sa.text("responsible_id IS NULL"))
    op.drop_index(
        "ix_claim_open_channel_due", table_name="claim", postgresql_where=sa.text("status IN ('new', 'in_progress')")
    )
