"""What the bot keeps between updates: processed update ids and the FSM records.

Both are written in the transaction of the update that produced them, so a redelivered update
is recognised exactly when its first handling committed, and a customer's place in a
conversation moves together with the data that step stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, exists, func, literal, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.bot_state.models import FsmRecord, ProcessedUpdate
from shared.customers.models import Customer


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


@dataclass(frozen=True, slots=True)
class UpdateStart:
    """What an update's handling needs first: whether it is new (`claim_update`), the customer
    behind it (None: not known yet) and their conversation record (`load_fsm`)."""

    fresh: bool
    customer: Customer | None
    fsm_state: str | None
    fsm_data: dict[str, Any]


def _start_statement() -> Any:
    fresh = (
        insert(ProcessedUpdate)
        .values(update_id=bindparam("update_id"))
        .on_conflict_do_nothing(index_elements=[ProcessedUpdate.update_id])
        .returning(ProcessedUpdate.update_id)
        .cte("fresh")
    )
    fsm = select(FsmRecord.state, FsmRecord.data).where(FsmRecord.key == bindparam("fsm_key")).subquery("fsm")
    one = select(literal(1).label("one")).subquery("one")
    return (
        select(exists(select(fresh.c.update_id)).label("fresh"), Customer, fsm.c.state, fsm.c.data)
        .select_from(one)
        .outerjoin(Customer, Customer.telegram_user_id == bindparam("telegram_user_id"))
        .outerjoin(fsm, true())
    )


_START = _start_statement()


async def start_update(session: AsyncSession, *, update_id: int, telegram_user_id: int, fsm_key: str) -> UpdateStart:
    """`claim_update`, the customer look-up and `load_fsm` in one round trip (every update pays
    for them). The update id is recorded exactly as `claim_update` records it."""
    params = {"update_id": update_id, "telegram_user_id": telegram_user_id, "fsm_key": fsm_key}
    row = (await session.execute(_START, params)).one()
    fresh, customer, state, data = row
    return UpdateStart(bool(fresh), customer, state, dict(data or {}))
