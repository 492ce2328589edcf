"""staff members' Telegram identity and personal alerts

- `staff_user.telegram_user_id`: the staff member's own Telegram account, once linked (unique).
- `staff_user.alert_assigned`, `alert_customer_wrote`, `alert_overdue`: personal alerts in Telegram.

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-06 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("staff_user", sa.Column("telegram_user_id", sa.BigInteger(), nullable=True))
    op.create_unique_constraint(op.f("uq_staff_user_telegram_user_id"), "staff_user", ["telegram_user_id"])
    for name in ("alert_assigned", "alert_customer_wrote", "alert_overdue"):
        op.add_column("staff_user", sa.Column(name, sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    for name in ("alert_overdue", "alert_customer_wrote", "alert_assigned"):
        op.drop_column("staff_user", name)
    op.drop_constraint(op.f("uq_staff_user_telegram_user_id"), "staff_user", type_="unique")
    op.drop_column("staff_user", "telegram_user_id")
