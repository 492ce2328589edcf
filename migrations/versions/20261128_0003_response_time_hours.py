"""response-time hours stored on the claim; per-group indexes cover the response-times report

`claim.first_response_hours` and `claim.resolution_hours`: generated (STORED) from the times the
claim already has, with the expression the response-times report used per row. Adding them rewrites
the claim table (an ACCESS EXCLUSIVE lock for the rewrite: about a minute per million claims).
ix_claim_registered_at carries them too; ix_claim_department_registered and
ix_claim_responsible_registered carry what the report reads, for index-only scans in group order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIRST_RESPONSE_HOURS_SQL = "date_part('epoch', first_response_at - registered_at) / 3600"
RESOLUTION_HOURS_SQL = "date_part('epoch', resolved_at - registered_at) / 3600"

REPORT_COLUMNS_0002 = [
    "status",
    "result",
    "channel",
    "reason_id",
    "culprit_department_id",
    "culprit_employee_id",
    "responsible_id",
    "first_response_at",
    "due_at",
    "resolved_at",
    "satisfaction_score",
]
HOURS = ["first_response_hours", "resolution_hours"]
RESPONSE_TIME_COLUMNS = ["status", "first_response_at", "due_at", "resolved_at", *HOURS]
GROUPS = [("department", "culprit_department_id"), ("responsible", "responsible_id")]


def upgrade() -> None:
    op.add_column(
        "claim",
        sa.Column("first_response_hours", sa.Double(), sa.Computed(FIRST_RESPONSE_HOURS_SQL, persisted=True)),
    )
    op.add_column(
        "claim", sa.Column("resolution_hours", sa.Double(), sa.Computed(RESOLUTION_HOURS_SQL, persisted=True))
    )
    op.drop_index("ix_claim_registered_at", table_name="claim")
    op.create_index(
        "ix_claim_registered_at",
        "claim",
        ["registered_at", "id"],
        unique=False,
        postgresql_include=[*REPORT_COLUMNS_0002, *HOURS],
    )
    for name, column in GROUPS:
        op.drop_index(f"ix_claim_{name}_registered", table_name="claim")
        op.create_index(
            f"ix_claim_{name}_registered",
            "claim",
            [column, "registered_at", "id"],
            unique=False,
            postgresql_include=RESPONSE_TIME_COLUMNS,
        )


def downgrade() -> None:
    for name, column in GROUPS:
        op.drop_index(f"ix_claim_{name}_registered", table_name="claim")
        op.create_index(
            f"ix_claim_{name}_registered",
            "claim",
            [column, "registered_at", "id"],
            unique=False,
            postgresql_include=["status"],
        )
    op.drop_index("ix_claim_registered_at", table_name="claim")
    op.create_index(
        "ix_claim_registered_at",
        "claim",
        ["registered_at", "id"],
        unique=False,
        postgresql_include=REPORT_COLUMNS_0002,
    )
    op.drop_column("claim", "resolution_hours")
    op.drop_column("claim", "first_response_hours")
