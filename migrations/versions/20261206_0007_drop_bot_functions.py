"""drop the bot's PL/pgSQL functions

The bot stores what customers send through one path, the Python services of `shared` (issue 12):
`bot_start_update` (0005), `store_inbound_text` and `bot_store_plain_text` (0006) were copies of
their rules in SQL and are dropped. The downgrade recreates them as 0005 and 0006 created them
(their SQL copied here: a migration must not change when later code does). The index 0006
dropped (`ix_interaction_claim_id`) stays dropped: `ix_interaction_claim_occurred` serves it.

Revision ID: 0007
Revises: 0012
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# bot_store_plain_text calls store_inbound_text: dropped first, recreated last.
DROP = (
    "DROP FUNCTION bot_store_plain_text(integer, integer, bigint, bigint, bigint, varchar, varchar, bigint, "
    "bigint, text, timestamptz)",
    "DROP FUNCTION store_inbound_text(bigint, bigint, text, timestamptz, bigint, bigint, bigint, varchar)",
    "DROP FUNCTION bot_start_update(integer, integer, bigint, bigint, varchar)",
)

# As migration 0005 created it.
BOT_START_UPDATE = """
CREATE FUNCTION bot_start_update(
    p_lock_class integer, p_lock_key integer, p_update_id bigint, p_telegram_user_id bigint, p_fsm_key varchar
) RETURNS TABLE (fresh_update boolean, fsm_state varchar, fsm_data jsonb, customer_row customer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_lock_key IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(p_lock_class, p_lock_key);
    END IF;
    RETURN QUERY
        WITH inserted AS (
            INSERT INTO bot_processed_update (update_id) VALUES (p_update_id)
            ON CONFLICT (update_id) DO NOTHING
            RETURNING update_id
        )
        SELECT EXISTS (SELECT FROM inserted), f.state, f.data, c
        FROM (SELECT 1) AS one
        LEFT JOIN customer AS c ON c.telegram_user_id = p_telegram_user_id
        LEFT JOIN bot_fsm_record AS f ON f.key = p_fsm_key;
END
$$
"""

# As migration 0006 created it.
STORE_INBOUND_TEXT = """
CREATE FUNCTION store_inbound_text(
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

# As migration 0006 created it.
BOT_STORE_PLAIN_TEXT = """
CREATE FUNCTION bot_store_plain_text(
    p_lock_class integer, p_lock_key integer, p_update_id bigint, p_telegram_user_id bigint,
    p_chat_id bigint, p_username varchar, p_fsm_key varchar, p_chosen_claim_id bigint,
    p_message_id bigint, p_text text, p_now timestamptz
) RETURNS TABLE (
    outcome text, customer_id bigint, language varchar,
    interaction_id bigint, claim_id bigint, number varchar, open_claims bigint
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_customer customer%ROWTYPE;
    v_state varchar;
    v_data jsonb;
    v_chosen jsonb;
    v_chosen_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_class, p_lock_key);
    SELECT * INTO v_customer FROM customer AS c WHERE c.telegram_user_id = p_telegram_user_id;
    -- A new customer, or one whose chat or username changed, is written by the routers' path.
    IF NOT FOUND OR v_customer.telegram_chat_id IS DISTINCT FROM p_chat_id
            OR v_customer.username IS DISTINCT FROM p_username THEN
        RETURN QUERY SELECT 'handle'::text, NULL::bigint, NULL::varchar, NULL::bigint, NULL::bigint,
                            NULL::varchar, NULL::bigint;
        RETURN;
    END IF;
    -- p_fsm_key NULL: the FSM lives elsewhere (Redis); the caller read it, found no state, and
    -- passes the claim chosen with "Write about this claim".
    IF p_fsm_key IS NOT NULL THEN
        SELECT f.state, f.data INTO v_state, v_data FROM bot_fsm_record AS f WHERE f.key = p_fsm_key;
        v_chosen := v_data -> 'writing_claim_id';
        -- In a wizard the text is an answer; an unexpected record is left to the routers too.
        IF v_state IS NOT NULL OR (v_chosen IS NOT NULL AND jsonb_typeof(v_chosen) <> 'null'
                AND NOT (jsonb_typeof(v_chosen) = 'number' AND v_chosen::text ~ '^[0-9]{1,18}$')) THEN
            RETURN QUERY SELECT 'handle'::text, NULL::bigint, NULL::varchar, NULL::bigint, NULL::bigint,
                                NULL::varchar, NULL::bigint;
            RETURN;
        END IF;
        v_chosen_id := CASE WHEN jsonb_typeof(v_chosen) = 'number' THEN v_chosen::text::bigint END;
    ELSE
        v_chosen_id := p_chosen_claim_id;
    END IF;
    INSERT INTO bot_processed_update (update_id) VALUES (p_update_id) ON CONFLICT (update_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'duplicate'::text, v_customer.id, v_customer.language, NULL::bigint,
                            NULL::bigint, NULL::varchar, NULL::bigint;
        RETURN;
    END IF;
    RETURN QUERY
        SELECT 'stored'::text, v_customer.id, v_customer.language, s.interaction_id, s.claim_id,
               s.number, s.open_claims
        FROM store_inbound_text(v_chosen_id, v_customer.id, p_text, p_now, p_chat_id, p_message_id, 0, NULL) AS s;
    IF NOT FOUND THEN  -- the same Telegram message stored before under another update id
        RETURN QUERY SELECT 'duplicate'::text, v_customer.id, v_customer.language, NULL::bigint,
                            NULL::bigint, NULL::varchar, NULL::bigint;
    END IF;
END
$$
"""


def upgrade() -> None:
    for statement in DROP:
        op.execute(statement)


def downgrade() -> None:
    op.execute(BOT_START_UPDATE)
    op.execute(STORE_INBOUND_TEXT)
    op.execute(BOT_STORE_PLAIN_TEXT)
