"""personal data

What requests about a customer's personal data (152-FZ, GDPR) and the attachments' retention need:

- `customer_event`: who exported or erased a customer's data, and when;
- `customer.erased_at`: the customer's data was erased (the row stays, anonymised, for the
  claims' figures);
- `attachment.removed_at` / `removed_reason` (expired, erased): the file is gone, the row stays.

Revision ID: 0010
Revises: 0006
Create Date: 2026-12-06 03:38:41.981862
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_staff_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "actor_kind IN ('staff', 'customer', 'system')", name=op.f("ck_customer_event_actor_kind_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["actor_staff_id"], ["staff_user.id"], name=op.f("fk_customer_event_actor_staff_id_staff_user")
        ),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"], name=op.f("fk_customer_event_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_event")),
    )
    op.create_index("ix_customer_event_customer_at", "customer_event", ["customer_id", "at"], unique=False)
    op.add_column("attachment", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("attachment", sa.Column("removed_reason", sa.String(length=16), nullable=True))
    op.create_check_constraint(
        op.f("ck_attachment_removed_reason_allowed"),
        "attachment",
        "removed_reason IS NULL OR removed_reason IN ('expired', 'erased')",
    )
    op.add_column("customer", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("customer", "erased_at")
    op.drop_constraint(op.f("ck_attachment_removed_reason_allowed"), "attachment", type_="check")
    op.drop_column("attachment", "removed_reason")
    op.drop_column("attachment", "removed_at")
    op.drop_index("ix_customer_event_customer_at", table_name="customer_event")
    op.drop_table("customer_event")
