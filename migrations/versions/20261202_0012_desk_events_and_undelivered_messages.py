"""desk events and undelivered messages

- `desk_event`: the audit of changes to the desk that concern no single claim (the catalogs'
  starter set, a message of no claim sent again).
- `outbox_message.failed_at`: when delivery failed for good (backfilled from the last attempt's
  time); `resent_as_id`: the message queued again in its place; a partial index lists the failed
  messages not sent again (the undelivered messages page).

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDELIVERED = sa.text("status = 'failed' AND resent_as_id IS NULL")


def upgrade() -> None:
    op.create_table(
        "desk_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "actor_kind IN ('staff', 'customer', 'system')", name=op.f("ck_desk_event_actor_kind_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["actor_staff_id"], ["staff_user.id"], name=op.f("fk_desk_event_actor_staff_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_event")),
    )
    op.create_index("ix_desk_event_kind_at", "desk_event", ["kind", "at"], unique=False)
    op.add_column("outbox_message", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox_message", sa.Column("resent_as_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_outbox_message_resent_as_id_outbox_message"),
        "outbox_message",
        "outbox_message",
        ["resent_as_id"],
        ["id"],
    )
    # The last attempt was due at next_attempt_at: the closest the table knows to when it failed.
    op.execute("UPDATE outbox_message SET failed_at = next_attempt_at WHERE status = 'failed'")
    op.create_index(
        "ix_outbox_message_undelivered", "outbox_message", ["failed_at"], unique=False, postgresql_where=UNDELIVERED
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_message_undelivered", table_name="outbox_message", postgresql_where=UNDELIVERED)
    op.drop_constraint(op.f("fk_outbox_message_resent_as_id_outbox_message"), "outbox_message", type_="foreignkey")
    op.drop_column("outbox_message", "resent_as_id")
    op.drop_column("outbox_message", "failed_at")
    op.drop_index("ix_desk_event_kind_at", table_name="desk_event")
    op.drop_table("desk_event")
