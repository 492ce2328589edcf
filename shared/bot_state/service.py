"""What the bot keeps between updates: processed update ids and the FSM records.

Both are written in the transaction of the update that produced them, so a redelivered update
is recognised exactly when its first handling committed, and a customer's place in a
conversation moves together with the data that step stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

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

    It is its own statement, before the update's first read: in READ COMMITTED a statement reads
    from a snapshot taken when it starts, so a read in the statement that waited for the lock
    would not see what the previous update of the chat committed meanwhile (a double tap on
    Submit would find the summary still open and register a second claim)."""
    # Through SQLAlchemy's connection, not the driver's: this statement opens the transaction
    # (SQLAlchemy begins lazily, at its first statement), and `start_update`, which runs on the
    # driver connection, must run inside it, or its insert would commit on its own at once.
    connection = await session.connection()
    await connection.exec_driver_sql(
        "SELECT pg_advisory_xact_lock($1::integer, $2::integer)", (CHAT_LOCK_CLASS, chat_lock_key(chat_id))
    )


@dataclass(frozen=True, slots=True)
class UpdateStart:
    """What an update's handling needs first: whether it is new (`claim_update`), the customer
    behind it (None: not known yet) and their conversation record (`load_fsm`)."""

    fresh: bool
    customer: Customer | None
    fsm_state: str | None
    fsm_data: dict[str, Any]


_CUSTOMER_COLUMNS = [(attr.key, attr.columns[0].name) for attr in sa_inspect(Customer).column_attrs]

# claim_update + the customer by Telegram user + load_fsm, in one statement on the driver
# connection of the session's transaction (SQLAlchemy's statement machinery cost more CPU than
# the statement on this path, which every update takes).
_START = f"""
    WITH fresh AS (
        INSERT INTO {ProcessedUpdate.__tablename__} (update_id) VALUES ($1)
        ON CONFLICT (update_id) DO NOTHING
        RETURNING update_id
    )
    SELECT EXISTS (SELECT FROM fresh) AS fresh, f.state AS fsm_state, f.data::text AS fsm_data,
           {", ".join(f'c."{name}" AS "c_{name}"' for _, name in _CUSTOMER_COLUMNS)}
    FROM (SELECT 1) AS one
    LEFT JOIN {Customer.__tablename__} AS c ON c.telegram_user_id = $2
    LEFT JOIN {FsmRecord.__tablename__} AS f ON f.key = $3
"""


async def start_update(session: AsyncSession, *, update_id: int, telegram_user_id: int, fsm_key: str) -> UpdateStart:
    """`claim_update`, the customer look-up and `load_fsm` in one round trip (every update pays
    for them). The update id is recorded exactly as `claim_update` records it; the customer is
    a persistent object of `session`, as if it had been loaded by a query.

    It runs on the driver connection, which SQLAlchemy has not necessarily begun a transaction
    on yet: the caller opens it first (the bot's `lock_chat` does), else the insert commits at once."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    row = await raw.fetchrow(_START, update_id, telegram_user_id, fsm_key)
    customer: Customer | None = None
    if row["c_id"] is not None:
        customer = Customer(**{key: row[f"c_{name}"] for key, name in _CUSTOMER_COLUMNS})
        make_transient_to_detached(customer)  # its attributes count as loaded, unchanged
        session.add(customer)
    data = json.loads(row["fsm_data"]) if row["fsm_data"] is not None else {}
    return UpdateStart(bool(row["fresh"]), customer, row["fsm_state"], dict(data or {}))


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
