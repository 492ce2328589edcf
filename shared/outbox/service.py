"""Queueing a message for a customer: one outbox row in the caller's transaction, and a NOTIFY that
PostgreSQL delivers to the worker only when that transaction commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.outbox.models import OutboxMessage

NOTIFY_CHANNEL = "claimdesk_outbox"


async def enqueue(
    session: AsyncSession,
    *,
    chat_id: int,
    method: str,
    payload: dict[str, Any],
    interaction_id: int | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        chat_id=chat_id, method=method, payload=payload, interaction_id=interaction_id, status="pending"
    )
    session.add(message)
    await session.flush()
    # Only the id travels in the notification; the worker reads the row itself.
    await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(message.id))))
    return message
