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
from shared.db import DRIVER_CONNECTION


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
    Submit would find the summary still open and register a second claim). `start_update` takes
    the same lock in its own round trip (a function: see there); this is for the updates that do
    not read a customer (no user, a group chat)."""
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
_CUSTOMER_MANAGER = sa_inspect(Customer).class_manager

# lock_chat + claim_update + the customer by Telegram user + load_fsm, in one round trip: the
# `bot_start_update` function (migration 0005). It must be a function: in READ COMMITTED a
# statement reads from the snapshot taken when it starts, so reads in the statement that waited
# for the lock would miss what the previous update of the chat committed meanwhile (a double tap
# on Submit would find the summary still open and register a second claim); each statement of a
# VOLATILE function takes a fresh snapshot, after the lock. The customer comes back as the
# table's row type, expanded here column by column from the mapping.
_START = f"""
    SELECT s.fresh_update, s.fsm_state, s.fsm_data::text AS fsm_data,
           {", ".join(f'(s.customer_row)."{name}" AS "c_{name}"' for _, name in _CUSTOMER_COLUMNS)}
    FROM bot_start_update($1::integer, $2::integer, $3::bigint, $4::bigint, $5::varchar) AS s
"""


async def start_update(
    session: AsyncSession, *, update_id: int, telegram_user_id: int, fsm_key: str, lock_chat_id: int | None = None
) -> UpdateStart:
    """`lock_chat` (when `lock_chat_id` is given), `claim_update`, the customer look-up and
    `load_fsm` in one round trip (every update pays for them). The update id is recorded exactly
    as `claim_update` records it; the customer is a persistent object of `session`, as if it had
    been loaded by a query.

    In the bot the session is pinned to a driver transaction (`shared.db.driver_transaction`)
    and this runs on the asyncpg connection directly; otherwise through SQLAlchemy's connection,
    so that, as a first statement, it opens SQLAlchemy's transaction (begun lazily, at the first
    statement) rather than committing on its own."""
    lock_key = chat_lock_key(lock_chat_id) if lock_chat_id is not None else None
    params = (CHAT_LOCK_CLASS, lock_key, update_id, telegram_user_id, fsm_key)
    raw = session.info.get(DRIVER_CONNECTION)
    if raw is not None:
        row = await raw.fetchrow(_START, *params)
    else:
        connection = await session.connection()
        row = (await connection.exec_driver_sql(_START, params)).one()._mapping
    customer: Customer | None = None
    if row["c_id"] is not None:
        # As a query's loader builds it: the values go straight into the instance's state (the
        # constructor would record each one as a change, at twice the CPU), then the object
        # becomes persistent with every attribute loaded and unchanged.
        customer = _CUSTOMER_MANAGER.new_instance()
        sa_inspect(customer).dict.update({key: row[f"c_{name}"] for key, name in _CUSTOMER_COLUMNS})
        make_transient_to_detached(customer)
        session.add(customer)
    data = json.loads(row["fsm_data"]) if row["fsm_data"] is not None else {}
    return UpdateStart(bool(row["fresh_update"]), customer, row["fsm_state"], dict(data or {}))


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
