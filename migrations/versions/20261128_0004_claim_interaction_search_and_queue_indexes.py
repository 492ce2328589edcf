"""claim interaction search vector and queue indexes

claim.interaction_search_vector holds the words of the claim's interactions, kept by triggers on
interaction (appended per INSERT statement, rebuilt when an interaction's text or claim changes or
it is deleted) and backfilled here; a GIN index on it makes a search one look-up on claim.
Partial indexes for the overdue and unassigned lists' totals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 06:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tsvector || tsvector, as an aggregate: the vectors of several interactions, positions shifted so
# each text keeps its own phrases.
CREATE_AGGREGATE = """
CREATE AGGREGATE claimdesk_tsvector_agg(tsvector) (SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = '')
"""

# One UPDATE per INSERT statement (a bulk load of interactions updates each claim once).
CREATE_APPEND = """
CREATE FUNCTION claim_interaction_search_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE claim AS c
    SET interaction_search_vector = coalesce(c.interaction_search_vector, ''::tsvector) || added.vector
    FROM (SELECT claim_id, claimdesk_tsvector_agg(search_vector ORDER BY id) AS vector
          FROM inserted WHERE claim_id IS NOT NULL GROUP BY claim_id) AS added
    WHERE c.id = added.claim_id;
    RETURN NULL;
END
$$
"""

CREATE_REBUILD = """
CREATE FUNCTION claim_interaction_search_rebuild() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    claims bigint[] := ARRAY[OLD.claim_id];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        claims := claims || NEW.claim_id;
    END IF;
    UPDATE claim AS c
    SET interaction_search_vector = (SELECT claimdesk_tsvector_agg(i.search_vector ORDER BY i.id)
                                     FROM interaction AS i WHERE i.claim_id = c.id)
    WHERE c.id = ANY (claims);
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    """CREATE TRIGGER interaction_search_append AFTER INSERT ON interaction
       REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION claim_interaction_search_append()""",
    """CREATE TRIGGER interaction_search_changed AFTER UPDATE OF text, claim_id ON interaction
       FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text OR OLD.claim_id IS DISTINCT FROM NEW.claim_id)
       EXECUTE FUNCTION claim_interaction_search_rebuild()""",
    """CREATE TRIGGER interaction_search_deleted AFTER DELETE ON interaction
       FOR EACH ROW WHEN (OLD.claim_id IS NOT NULL) EXECUTE FUNCTION claim_interaction_search_rebuild()""",
)

BACKFILL = """
UPDATE claim AS c SET interaction_search_vector = agg.vector
FROM (SELECT claim_id, claimdesk_tsvector_agg(search_vector ORDER BY id) AS vector
      FROM interaction WHERE claim_id IS NOT NULL GROUP BY claim_id) AS agg
WHERE c.id = agg.claim_id
"""


def upgrade() -> None:
    op.add_column("claim", sa.Column("interaction_search_vector", postgresql.TSVECTOR(), nullable=True))
    op.execute(CREATE_AGGREGATE)
    op.execute(CREATE_APPEND)
    op.execute(CREATE_REBUILD)
    for trigger in TRIGGERS:
        op.execute(trigger)
    op.execute(BACKFILL)
    op.create_index(
        "ix_claim_interaction_search_vector",
        "claim",
        ["interaction_search_vector"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_claim_open_channel_due",
        "claim",
        ["channel", "due_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('new', 'in_progress')"),
    )
    op.create_index(
        "ix_claim_unassigned",
        "claim",
        ["status", "registered_at", "id"],
        unique=False,
        postgresql_where=sa.text("responsible_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_claim_unassigned", table_name="claim", postgresql_where=sa.text("responsible_id IS NULL"))
    op.drop_index(
        "ix_claim_open_channel_due", table_name="claim", postgresql_where=sa.text("status IN ('new', 'in_progress')")
    )
    op.drop_index("ix_claim_interaction_search_vector", table_name="claim", postgresql_using="gin")
    op.execute("DROP TRIGGER interaction_search_deleted ON interaction")
    op.execute("DROP TRIGGER interaction_search_changed ON interaction")
    op.execute("DROP TRIGGER interaction_search_append ON interaction")
    op.execute("DROP FUNCTION claim_interaction_search_rebuild()")
    op.execute("DROP FUNCTION claim_interaction_search_append()")
    op.execute("DROP AGGREGATE claimdesk_tsvector_agg(tsvector)")
    op.drop_column("claim", "interaction_search_vector")
