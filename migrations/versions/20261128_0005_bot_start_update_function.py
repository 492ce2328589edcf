"""bot_start_update function

The first round trip of every bot update in one call: the per-chat advisory lock, then (after it,
with a fresh snapshot) the update id recorded, the customer and the FSM record read.
`shared.bot_state.service.start_update` calls it; see there why it must be a function.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 06:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# VOLATILE (the default, spelled out): PostgreSQL gives each statement of a volatile function a
# fresh snapshot in READ COMMITTED, so the reads below see whatever the previous holder of the
# lock committed. `customer_row` is the customer table's row type: it follows later ALTER TABLEs,
# and the caller expands it column by column from the ORM mapping.
CREATE = """
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


def upgrade() -> None:
    op.execute(CREATE)


def downgrade() -> None:
    op.execute("DROP FUNCTION bot_start_update(integer, integer, bigint, bigint, varchar)")
