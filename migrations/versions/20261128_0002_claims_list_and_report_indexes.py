"""claims list and report indexes

Composite (filter column, registered_at, id) indexes for the claims list"s keyset pages and
index-only totals; ix_claim_registered_at covers the reports" columns (index-only scans of a year).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:49:39.011911
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_claim_culprit_department_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_culprit_employee_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_customer_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_reason_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_responsible_id"), table_name="claim")
    op.drop_index(op.f("ix_claim_status"), table_name="claim")
    op.drop_index(op.f("ix_claim_registered_at"), table_name="claim")
    op.create_index(
        "ix_claim_registered_at",
        "claim",
        ["registered_at", "id"],
        unique=False,
        postgresql_include=[
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
        ],
    )
    op.create_index(
        "ix_claim_customer_registered",
        "claim",
        ["customer_id", "registered_at", "id"],
        unique=False,
        postgresql_include=["status"],
    )
    op.create_index(
        "ix_claim_department_registered",
        "claim",
        ["culprit_department_id", "registered_at", "id"],
        unique=False,
        postgresql_include=["status"],
    )
    op.create_index(
        "ix_claim_employee_registered",
        "claim",
        ["culprit_employee_id", "registered_at", "id"],
        unique=False,
        postgresql_include=["status"],
    )
    op.create_index(
        "ix_claim_reason_registered",
        "claim",
        ["reason_id", "registered_at", "id"],
        unique=False,
        postgresql_include=["status"],
    )
    op.create_index(
        "ix_claim_responsible_registered",
        "claim",
        ["responsible_id", "registered_at", "id"],
        unique=False,
        postgresql_include=["status"],
    )
    op.create_index(
        "ix_claim_status_registered",
        "claim",
        ["status", "registered_at", "id"],
        unique=False,
        postgresql_include=["channel", "due_at"],
    )
    op.create_index("ix_claim_updated_at", "claim", ["updated_at", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_claim_updated_at", table_name="claim")
    op.drop_index("ix_claim_status_registered", table_name="claim", postgresql_include=["channel", "due_at"])
    op.drop_index("ix_claim_responsible_registered", table_name="claim", postgresql_include=["status"])
    op.drop_index("ix_claim_reason_registered", table_name="claim", postgresql_include=["status"])
    op.drop_index("ix_claim_employee_registered", table_name="claim", postgresql_include=["status"])
    op.drop_index("ix_claim_department_registered", table_name="claim", postgresql_include=["status"])
    op.drop_index("ix_claim_customer_registered", table_name="claim", postgresql_include=["status"])
    op.drop_index(
        "ix_claim_registered_at",
        table_name="claim",
        postgresql_include=[
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
        ],
    )
    op.create_index(op.f("ix_claim_registered_at"), "claim", ["registered_at"], unique=False)
    op.create_index(op.f("ix_claim_status"), "claim", ["status"], unique=False)
    op.create_index(op.f("ix_claim_responsible_id"), "claim", ["responsible_id"], unique=False)
    op.create_index(op.f("ix_claim_reason_id"), "claim", ["reason_id"], unique=False)
    op.create_index(op.f("ix_claim_customer_id"), "claim", ["customer_id"], unique=False)
    op.create_index(op.f("ix_claim_culprit_employee_id"), "claim", ["culprit_employee_id"], unique=False)
    op.create_index(op.f("ix_claim_culprit_department_id"), "claim", ["culprit_department_id"], unique=False)
