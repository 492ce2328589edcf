"""Undelivered messages: the reasons in words, and sending again where that can work
(shared/outbox/undelivered.py), against the Bot API emulator and the real delivery worker."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.delivery.worker import NOTE_PLAIN, REASON_BLOCKED, REASON_DEACTIVATED
from bot.sandbox import BotApiEmulator
from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.customers.models import Customer
from shared.enums import Direction, InteractionChannel
from shared.errors import Conflict
from shared.interactions.models import Interaction
from shared.interactions.service import log_interaction
from shared.outbox.models import OutboxMessage
from shared.outbox.undelivered import get_undelivered, list_undelivered, reason_of, resend_message
from tests.delivery.conftest import as_delivered, claim_for, running_worker, staff_reply, wait_until


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (REASON_BLOCKED, "blocked"),
        (REASON_DEACTIVATED, "deactivated"),
        ("Telegram refused the message: Bad Request: chat not found", "chat_not_found"),
        ("Telegram did not take the message after 8 attempts (TelegramServerError: 502)", "gave_up"),
        ("Telegram kept refusing with 429 after 24 attempts", "gave_up"),
        ("the attached file is missing: receipt.pdf", "file_missing"),
        ("cannot deliver: unsupported message (sendPoll, 0 parts)", "unsupported"),
        ("Telegram refused the message: Bad Request: message is too long", "refused"),
        (NOTE_PLAIN, "other"),
        (None, "other"),
    ],
)
def test_reasons_in_words(error: str | None, reason: str) -> None:
    assert reason_of(error) == reason


async def _chat(db, customer_id: int) -> int:
    async with db() as session:
        chat_id = (await session.get_one(Customer, customer_id)).telegram_chat_id
        assert chat_id is not None
        return chat_id


async def _state(db, interaction_id: int) -> str | None:
    async with db() as session:
        return (await session.get_one(Interaction, interaction_id)).delivery_state


async def test_a_blocked_customer_is_resent_only_after_writing_again(
    db, flood_emu: BotApiEmulator, database_url: str
) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    user.block()
    async with running_worker(db, flood_emu, database_url):
        iid = await staff_reply(db, claim, staff, "Мы вернём деньги")

        async def failed() -> bool:
            return await _state(db, iid) == "failed"

        await wait_until(failed)
        async with db() as session:
            page = await list_undelivered(session)
            (item,) = [i for i in page.items if i.text == "Мы вернём деньги"]
            assert (item.reason, item.claim_number, item.customer_id) == ("blocked", claim.number, claim.customer_id)
            assert not item.wrote_since and not item.resendable
            with pytest.raises(Conflict):
                await resend_message(session, message_id=item.id, actor=staff)
            await session.rollback()
        # The customer unblocks the bot and writes (the bot stores it as an inbound message).
        user.unblock()
        async with db() as session, session.begin():
            await log_interaction(
                session,
                actor=Actor.customer(claim.customer_id),
                direction=Direction.INBOUND,
                channel=InteractionChannel.TELEGRAM,
                text="Разблокировал, жду ответа",
                claim_id=claim.id,
            )
        async with db() as session:
            item = await get_undelivered(session, message_id=item.id)
            assert item.wrote_since and item.resendable
            again = await resend_message(session, message_id=item.id, actor=staff)
            await session.commit()

        async def sent() -> bool:
            return await _state(db, iid) == "sent"

        await wait_until(sent)
    assert [m.text for m in user.messages] == [as_delivered(claim, "Мы вернём деньги")]
    async with db() as session:
        old = await session.get_one(OutboxMessage, item.id)
        assert old.status == "failed" and old.resent_as_id == again.id and old.failed_at is not None
        assert (await session.get_one(OutboxMessage, again.id)).status == "sent"
        event = await session.scalar(select(ClaimEvent).where(ClaimEvent.kind == "message_resent"))
        assert event is not None and event.claim_id == claim.id and event.actor_staff_id == staff.id
        assert event.before["error"] == REASON_BLOCKED
        assert (await list_undelivered(session)).total == 0
        with pytest.raises(Conflict):  # twice is refused: it is no longer undelivered
            await resend_message(session, message_id=item.id, actor=staff)


async def test_gave_up_after_temporary_trouble_is_resendable(db, flood_emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    chat_id = await _chat(db, claim.customer_id)
    flood_emu.faults.inject(method="sendMessage", chat_id=chat_id, kind=502, times=2)
    async with running_worker(db, flood_emu, database_url, max_attempts=2):
        iid = await staff_reply(db, claim, staff, "Ответ после сбоя")

        async def failed() -> bool:
            return await _state(db, iid) == "failed"

        await wait_until(failed)
        async with db() as session:
            (item,) = (await list_undelivered(session)).items
            assert item.reason == "gave_up" and item.resendable and not item.wrote_since
            await resend_message(session, message_id=item.id, actor=staff)
            await session.commit()

        async def sent() -> bool:
            return await _state(db, iid) == "sent"

        await wait_until(sent)
