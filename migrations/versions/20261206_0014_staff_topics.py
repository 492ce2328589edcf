"""a forum topic per claim in the staff group

- `claim_topic`: the claim's topic (thread id once created, its name and icon, closed), and the
  Resolve... draft of a staff member working from the topic.
- `staff_group`: whether topics work in the staff group (else flat posts), and why not.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_topic",
        sa.Column("claim_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("icon", sa.String(length=32), nullable=True),
        sa.Column("closed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("resolve_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("resolve_result", sa.String(length=16), nullable=True),
        sa.Column("resolve_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_claim_topic_claim_id_claim"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["resolve_staff_id"],
            ["staff_user.id"],
            name=op.f("fk_claim_topic_resolve_staff_id_staff_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claim_topic")),
        sa.UniqueConstraint("chat_id", "thread_id", name=op.f("uq_claim_topic_chat_id_thread_id")),
    )
    op.create_table(
        "staff_group",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("forum", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_staff_group")),
    )


def downgrade() -> None:
    op.drop_table("staff_group")
    op.drop_table("claim_topic")
