"""How far behind delivery is: the messages not sent yet and the age of the oldest, read from the
outbox itself when metrics are scraped (a counter kept by a process would drift from the table
as soon as two processes write to it, or one restarts)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# The rows counted are exactly those of the partial index ix_outbox_message_due (pending or being
# sent): the count is an index scan over the backlog alone, whatever the size of the table, and
# min(created_at) reads only those rows.
_BACKLOG = text(
    """
    SELECT count(*) AS depth,
           COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0) AS oldest_age
    FROM outbox_message
    WHERE status IN ('pending', 'sending')
    """
)


@dataclass(frozen=True, slots=True)
class Backlog:
    depth: int  # messages pending or being sent
    oldest_age_seconds: float  # since the oldest of them was queued; 0 when there is none


async def outbox_backlog(session: AsyncSession) -> Backlog:
    row = (await session.execute(_BACKLOG)).one()
    return Backlog(depth=int(row.depth), oldest_age_seconds=float(row.oldest_age))
