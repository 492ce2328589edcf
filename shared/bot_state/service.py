"""What the bot keeps between updates: processed update ids and the FSM records.

Both are written in the transaction of the update that produced them, so a redelivered update
is recognised exactly when its first handling committed, and a customer's place in a
conversation moves together with the data that step stored.
"""

from __future__ import annotations

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
