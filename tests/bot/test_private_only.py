"""The customers' bot talks in private chats only: a customer writing from a group never moves
their conversation (claims, staff replies, decisions) into that group."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.bot_state.models import ProcessedUpdate
from shared.customers.models import Customer
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.bot.test_messages import seed

GROUP_ID = -100777


async def test_group_messages_store_nothing_and_get_no_reply(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    user = emu.user(7101, first_name="Gala", language_code="en")
    customer, (claim,) = await seed(db, 7101, lang="en")
    group = {"id": GROUP_ID, "type": "group", "title": "Friends"}
    async with running_bot(emu, db):
        first = emu.world.next_update_id
        for n, text in enumerate(("/claims", "/start", "my order is broken"), start=1):
            emu.world.push_update(
                "message", {"message_id": n, "date": 0, "chat": group, "from": user.profile, "text": text}
            )
        processed = await eventually(
            db,
            lambda s: s.scalar(
                select(func.count()).select_from(ProcessedUpdate).where(ProcessedUpdate.update_id >= first)
            ),
            lambda n: n == 3,
        )
        await user.sleep_until_quiet(0.3)
        async with db() as session:
            stored = await count_interactions(session)
            chat_id = await session.scalar(select(Customer.telegram_chat_id).where(Customer.id == customer.id))
        # The private chat still works, and answers there.
        await user.send_text("/claims")
        (listing,) = await user.wait_for_messages()
    assert processed == 3  # handled (not redelivered forever), but ignored
    assert stored == 0
    assert chat_id == 7101
    to_group = [c for c in emu.calls_of("sendMessage") if str(c.get("chat_id")) == str(GROUP_ID)]
    assert to_group == []
    assert claim.number in (listing.text or "")
