"""staff web pages

- `staff_session.csrf_token`: the web pages' CSRF token, bound to the sign-in session.
- `reply_template`: saved replies per language, offered in the claim card's reply box.

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("staff_session", sa.Column("csrf_token", sa.String(length=64), nullable=True))
    op.create_table(
        "reply_template",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["staff_user.id"], name=op.f("fk_reply_template_created_by_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_template")),
    )
    op.create_index("ix_reply_template_language_title", "reply_template", ["language", "title"])


def downgrade() -> None:
    op.drop_index("ix_reply_template_language_title", table_name="reply_template")
    op.drop_table("reply_template")
    op.drop_column("staff_session", "csrf_token")
