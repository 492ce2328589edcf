"""The bot's one-statement services (shared.bot_state.service.start_update and
shared.interactions.routing.store_inbound_text) against the general ones they stand for."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.audit.models import ClaimEvent
from shared.bot_state.service import CHAT_LOCK_CLASS, chat_lock_key, load_fsm, save_fsm, start_update
from shared.claims.models import Claim
from shared.claims.workflow import DONE_STATUSES, OPEN_STATUSES, ClaimResult, ClaimStatus
from shared.customers.models import Customer
from shared.db import driver_transaction
from shared.interactions.models import Interaction
from shared.interactions.routing import store_inbound_text
from shared.interactions.service import TelegramRef
from tests.factories import make_claim, make_customer


async def test_start_update_records_the_update_once_and_reads_customer_and_fsm(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as session:
        customer = await make_customer(session)
        await save_fsm(session, key="fsm:k", state="Intake:what", data={"a": [1, "б"]})
    async with db.begin() as session:
        start = await start_update(
            session, update_id=77, telegram_user_id=customer.telegram_user_id or 0, fsm_key="fsm:k"
        )
        assert start.fresh and (start.fsm_state, start.fsm_data) == ("Intake:what", {"a": [1, "б"]})
        assert start.customer is not None and start.customer.id == customer.id
        assert start.customer.name == customer.name and start.customer.created_at == customer.created_at
        start.customer.language = "en"  # a persistent object: changes are flushed with the transaction
    async with db.begin() as session:
        again = await start_update(session, update_id=77, telegram_user_id=customer.telegram_user_id or 0, fsm_key="x")
        assert not again.fresh and (again.fsm_state, again.fsm_data) == (None, {})
        assert (await session.get_one(Customer, customer.id)).language == "en"
        assert await load_fsm(session, key="x") == (None, {})
        unknown = await start_update(session, update_id=78, telegram_user_id=1, fsm_key="fsm:k")
        assert unknown.fresh and unknown.customer is None


async def test_store_inbound_text_routes_stores_once_and_audits(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as session:
        alone = await make_customer(session)
        claim = await make_claim(session, customer=alone)
        many = await make_customer(session)
        first = await make_claim(session, customer=many)
        await make_claim(session, customer=many)
        nobody = await make_customer(session)
    async with db.begin() as session:
        stored = await store_inbound_text(
            session, customer_id=alone.id, chosen_claim_id=None, text="hi", telegram=TelegramRef(1, 1)
        )
        assert stored.created and (stored.claim_id, stored.claim_number) == (claim.id, claim.number)
        again = await store_inbound_text(
            session, customer_id=alone.id, chosen_claim_id=None, text="hi", telegram=TelegramRef(1, 1)
        )
        assert not again.created
        ask = await store_inbound_text(
            session, customer_id=many.id, chosen_claim_id=None, text="?", telegram=TelegramRef(2, 1)
        )
        assert ask.created and ask.ambiguous and ask.claim_id is None
        chosen = await store_inbound_text(
            session, customer_id=many.id, chosen_claim_id=first.id, text="!", telegram=TelegramRef(2, 2)
        )
        assert chosen.claim_id == first.id
        foreign = await store_inbound_text(  # someone else's claim id is not a choice
            session, customer_id=nobody.id, chosen_claim_id=claim.id, text="x", telegram=TelegramRef(3, 1)
        )
        assert foreign.created and foreign.claim_id is None and not foreign.ambiguous
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Interaction)) == 4
        event = await session.scalar(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim.id, ClaimEvent.kind == "interaction_added")
        )
        assert event is not None and event.actor_customer_id == alone.id and event.actor_kind == "customer"
        assert event.after == {
            "interaction_id": stored.interaction_id,
            "direction": "inbound",
            "channel": "telegram",
            "attachments": 0,
        }


async def test_start_update_takes_the_chat_lock_first(db: async_sessionmaker[AsyncSession]) -> None:
    """With `lock_chat_id` the advisory lock `lock_chat` takes is held, in the same transaction, and
    the reads come after it (a second transaction on the chat waits, then sees the first's writes)."""
    async with db.begin() as session:
        customer = await make_customer(session)
    user = customer.telegram_user_id or 0
    async with db() as first, driver_transaction(first):
        await start_update(first, update_id=1, telegram_user_id=user, fsm_key="fsm:k", lock_chat_id=user)
        locks = await first.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND classid::bigint = :c AND objid::bigint = :k"
            ),
            {"c": CHAT_LOCK_CLASS, "k": chat_lock_key(user) & 0xFFFFFFFF},
        )
        assert locks == 1

        async def second() -> tuple[str | None, dict]:
            async with db() as other, driver_transaction(other):
                start = await start_update(
                    other, update_id=2, telegram_user_id=user, fsm_key="fsm:k", lock_chat_id=user
                )
                return start.fsm_state, start.fsm_data

        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # blocked on the lock
        await save_fsm(first, key="fsm:k", state="Intake:summary", data={"x": 1})
    assert await asyncio.wait_for(waiting, 5) == ("Intake:summary", {"x": 1})


@pytest.mark.parametrize("status", list(ClaimStatus))
async def test_store_inbound_text_follows_the_workflow_s_open_statuses(
    db: async_sessionmaker[AsyncSession], status: ClaimStatus
) -> None:
    """The rule lives in a PostgreSQL function (migration 0006) with the statuses spelled out:
    it must keep agreeing with shared.claims.workflow."""
    async with db.begin() as session:
        customer = await make_customer(session)
        claim = await make_claim(session, customer=customer)
        done = status in DONE_STATUSES
        await session.execute(
            update(Claim)
            .where(Claim.id == claim.id)
            .values(
                status=status.value,
                result=ClaimResult.SATISFIED.value if done else None,
                resolved_at=func.now() if done else None,
            )
        )
    async with db.begin() as session:
        alone = await store_inbound_text(
            session, customer_id=customer.id, chosen_claim_id=None, text="?", telegram=TelegramRef(9, 1)
        )
        chosen = await store_inbound_text(
            session, customer_id=customer.id, chosen_claim_id=claim.id, text="!", telegram=TelegramRef(9, 2)
        )
    assert (alone.claim_id == claim.id) == (status in OPEN_STATUSES)
    assert (chosen.claim_id == claim.id) == (status != ClaimStatus.CLOSED)
