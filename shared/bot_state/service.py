"""What the bot keeps between updates: processed update ids and the FSM records.

Both are written in the transaction of the update that produced them, so a redelivered update
is recognised exactly when its first handling committed, and a customer's place in a
conversation moves together with the data that step stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bot_state.models import FsmRecord, ProcessedUpdate


async def claim_update(session: AsyncSession, *, update_id: int) -> bool:
    """Record `update_id` as handled in the caller's transaction; False when it already was.

    A concurrent delivery of the same id waits on the primary key until the first transaction
    ends: it then sees the row (first committed: skip) or inserts it (first rolled back: handle).
    """
    inserted = await session.scalar(
        insert(ProcessedUpdate)
        .values(update_id=update_id)
        .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
        .returning(ProcessedUpdate.update_id)
    )
    return inserted is not None


async def load_fsm(session: AsyncSession, *, key: str) -> tuple[str | None, dict[str, Any]]:
    row = (await session.execute(select(FsmRecord.state, FsmRecord.data).where(FsmRecord.key == key))).first()
    if row is None:
        return None, {}
    return row.state, dict(row.data or {})


async def save_fsm(session: AsyncSession, *, key: str, state: str | None, data: dict[str, Any]) -> None:
    """Upsert one conversation record; an empty one (no state, no data) is deleted."""
    if state is None and not data:
        await session.execute(delete(FsmRecord).where(FsmRecord.key == key))
        return
    await session.execute(
        insert(FsmRecord)
        .values(key=key, state=state, data=data)
        .on_conflict_do_update(
            index_elements=[FsmRecord.key], set_={"state": state, "data": data, "updated_at": func.now()}
        )
    )


# The first key of the two-key advisory locks the bot takes per chat ("cdBT"): its own key space,
# apart from the one-key locks elsewhere (shared/demo.py).
CHAT_LOCK_CLASS = 0x63644254


def chat_lock_key(chat_id: int) -> int:
    """A chat id (64-bit in Telegram) folded into the 32-bit second key. Two chats folding to the
    same key only wait for each other now and then; nothing is shared."""
    folded = (chat_id ^ (chat_id >> 32)) & 0xFFFFFFFF
    return folded - (1 << 32) if folded >= 1 << 31 else folded


async def lock_chat(session: AsyncSession, *, chat_id: int) -> None:
    """Serialise the updates of one chat across bot processes until the caller's transaction
    ends (a transaction-scoped advisory lock: released by the commit or rollback).

    Call it as the transaction's first statement, and read nothing in the same statement: in
    READ COMMITTED a statement reads from a snapshot taken when it starts, so a read in the
    statement that waited for the lock would not see what the previous update of the chat
    committed meanwhile (a double tap on Submit would find the summary still open and register
    a second claim). The statements after this one take their snapshots after the lock."""
    await session.execute(select(func.pg_advisory_xact_lock(CHAT_LOCK_CLASS, chat_lock_key(chat_id))))


# Telegram keeps an unconfirmed update for 24 hours at most, so an id older than this is never
# redelivered. Past a week without updates Telegram picks the next update id at random: a stale
# row could then match a new id and drop a customer's message as a "redelivery". Forgetting the
# old ids keeps the dedupe exact and the table small.
PROCESSED_UPDATE_RETENTION = timedelta(days=2)


async def forget_processed_updates(session: AsyncSession, *, before: datetime, limit: int = 10_000) -> int:
    """Delete up to `limit` update ids recorded before `before`; the number deleted."""
    oldest = (
        select(ProcessedUpdate.update_id).where(ProcessedUpdate.processed_at < before).limit(limit).scalar_subquery()
    )
    result = await session.execute(delete(ProcessedUpdate).where(ProcessedUpdate.update_id.in_(oldest)))
    return result.rowcount or 0
