"""staff web pages

- `staff_session.csrf_token`: the web pages' CSRF token, bound to the sign-in session.
- `reply_template`: saved replies per language, offered in the claim card's reply box.
- `store_inbound_text` (0006) also sends the staff pages' live notification (shared/live.py) for
  the customer text it stores, as `log_interaction` does for every other message.

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

# The function of 0006 with the NOTIFY added; the downgrade restores 0006's text.
STORE_INBOUND_TEXT = """
CREATE OR REPLACE FUNCTION store_inbound_text(
    p_chosen_claim_id bigint, p_customer_id bigint, p_text text, p_now timestamptz,
    p_chat_id bigint, p_message_id bigint, p_edit_date bigint, p_media_group_id varchar
) RETURNS TABLE (interaction_id bigint, claim_id bigint, number varchar, open_claims bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN QUERY
    WITH chosen AS (
        SELECT c.id, c.number FROM claim AS c
        WHERE c.id = p_chosen_claim_id AND c.customer_id = p_customer_id AND c.status <> 'closed'
    ), open AS (
        SELECT c.id, c.number FROM claim AS c
        WHERE c.customer_id = p_customer_id AND c.status IN ('new', 'in_progress')
        ORDER BY c.registered_at DESC, c.id DESC
        LIMIT 2
    ), target AS (
        SELECT chosen.id, chosen.number FROM chosen
        UNION ALL
        SELECT open.id, open.number FROM open
        WHERE NOT EXISTS (SELECT FROM chosen) AND (SELECT count(*) FROM open) = 1
    ), ins AS (
        INSERT INTO interaction
            (claim_id, customer_id, direction, channel, text, occurred_at,
             tg_chat_id, tg_message_id, tg_edit_date, tg_media_group_id)
        VALUES ((SELECT target.id FROM target), p_customer_id, 'inbound', 'telegram', p_text, p_now,
                p_chat_id, p_message_id, p_edit_date, p_media_group_id)
        ON CONFLICT ON CONSTRAINT uq_interaction_tg_message DO NOTHING
        RETURNING interaction.id, interaction.claim_id
    ), event AS (
        INSERT INTO claim_event (claim_id, actor_kind, actor_customer_id, kind, after, at)
        SELECT ins.claim_id, 'customer', p_customer_id, 'interaction_added',
               jsonb_build_object('interaction_id', ins.id, 'direction', 'inbound',
                                  'channel', 'telegram', 'attachments', 0),
               p_now
        FROM ins WHERE ins.claim_id IS NOT NULL
    )
    SELECT ins.id, ins.claim_id, (SELECT target.number FROM target), (SELECT count(*) FROM open)
    FROM ins;
    -- The staff pages' live updates (shared/live.py): delivered when the transaction commits.
    IF FOUND THEN
        PERFORM pg_notify('claimdesk_live',
                          json_build_object('kind', 'message', 'customer_id', p_customer_id,
                                            'claim_id', NULL)::text);
    END IF;
END
$$
"""

STORE_INBOUND_TEXT_0006 = """
CREATE OR REPLACE FUNCTION store_inbound_text(
    p_chosen_claim_id bigint, p_customer_id bigint, p_text text, p_now timestamptz,
    p_chat_id bigint, p_message_id bigint, p_edit_date bigint, p_media_group_id varchar
) RETURNS TABLE (interaction_id bigint, claim_id bigint, number varchar, open_claims bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN QUERY
    WITH chosen AS (
        SELECT c.id, c.number FROM claim AS c
        WHERE c.id = p_chosen_claim_id AND c.customer_id = p_customer_id AND c.status <> 'closed'
    ), open AS (
        SELECT c.id, c.number FROM claim AS c
        WHERE c.customer_id = p_customer_id AND c.status IN ('new', 'in_progress')
        ORDER BY c.registered_at DESC, c.id DESC
        LIMIT 2
    ), target AS (
        SELECT chosen.id, chosen.number FROM chosen
        UNION ALL
        SELECT open.id, open.number FROM open
        WHERE NOT EXISTS (SELECT FROM chosen) AND (SELECT count(*) FROM open) = 1
    ), ins AS (
        INSERT INTO interaction
            (claim_id, customer_id, direction, channel, text, occurred_at,
             tg_chat_id, tg_message_id, tg_edit_date, tg_media_group_id)
        VALUES ((SELECT target.id FROM target), p_customer_id, 'inbound', 'telegram', p_text, p_now,
                p_chat_id, p_message_id, p_edit_date, p_media_group_id)
        ON CONFLICT ON CONSTRAINT uq_interaction_tg_message DO NOTHING
        RETURNING interaction.id, interaction.claim_id
    ), event AS (
        INSERT INTO claim_event (claim_id, actor_kind, actor_customer_id, kind, after, at)
        SELECT ins.claim_id, 'customer', p_customer_id, 'interaction_added',
               jsonb_build_object('interaction_id', ins.id, 'direction', 'inbound',
                                  'channel', 'telegram', 'attachments', 0),
               p_now
        FROM ins WHERE ins.claim_id IS NOT NULL
    )
    SELECT ins.id, ins.claim_id, (SELECT target.number FROM target), (SELECT count(*) FROM open)
    FROM ins;
END
$$
"""


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
    op.execute(STORE_INBOUND_TEXT)


def downgrade() -> None:
    op.execute(STORE_INBOUND_TEXT_0006)
    op.drop_index("ix_reply_template_language_title", table_name="reply_template")
    op.drop_table("reply_template")
    op.drop_column("staff_session", "csrf_token")
