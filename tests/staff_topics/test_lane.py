"""The staff chat's lane without the bot: a claim's texts that piled up go as one post (files stay
separate, the order within the topic holds), and a message the customer never got is said in the
claim's topic."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from bot.sandbox.groups import GroupDriver
from shared.actors import Actor
from shared.claims.service import NewClaim, register_claim
from shared.customers.models import Customer
from shared.enums import AttachmentKind
from shared.i18n import get_translator
from shared.interactions.routing import receive_inbound
from shared.interactions.service import AttachmentIn, TelegramRef, reply_to_customer
from shared.outbox.models import OutboxMessage
from shared.topics.models import ClaimTopic
from tests.bot.conftest import eventually
from tests.delivery.conftest import running_worker
from tests.factories import make_staff

T = get_translator("ru")


@pytest.fixture
def group(emu: BotApiEmulator, staff_chat: int) -> GroupDriver:
    return emu.supergroup(staff_chat, "Claims desk")


async def new_claim(db: async_sessionmaker[AsyncSession], user_id: int) -> tuple[int, int]:
    async with db.begin() as session:
        customer = Customer(name="Pia", telegram_user_id=user_id, telegram_chat_id=user_id, language="en")
        session.add(customer)
        await session.flush()
        claim = await register_claim(
            session, claim_in=NewClaim(customer_id=customer.id, description="late"), actor=Actor.customer(customer.id)
        )
        return customer.id, claim.id


async def test_piled_up_texts_of_a_claim_go_as_one_post_files_apart_order_kept(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    user = emu.user(8201, "Pia")
    customer_id, claim_id = await new_claim(db, 8201)
    other = emu.user(8202, "Rob")
    other_customer, _ = await new_claim(db, 8202)
    # Written while the worker is busy elsewhere (here: not running): they pile up in the queue,
    # interleaved with another claim's.
    steps: list[tuple[object, int, str, bool]] = [
        (user, customer_id, "one", False),
        (other, other_customer, "other claim", False),
        (user, customer_id, "two <b>not bold</b>", False),
        (user, customer_id, "three", False),
        (user, customer_id, "a photo", True),
        (user, customer_id, "four", False),
    ]
    for person, cid, text, photo in steps:
        sent = await (person.send_photo(caption=text) if photo else person.send_text(text))  # type: ignore[attr-defined]
        files = (AttachmentIn(kind=AttachmentKind.PHOTO, tg_file_id=sent["photo"][-1]["file_id"]),) if photo else ()
        async with db.begin() as session:
            await receive_inbound(
                session,
                customer_id=cid,
                chosen_claim_id=None,
                text=text,
                telegram=TelegramRef(chat_id=sent["chat"]["id"], message_id=sent["message_id"]),
                attachments=files,
            )
    async with running_worker(db, emu, database_url, group_interval=0.05):
        topic = await eventually(
            db, lambda s: s.get(ClaimTopic, claim_id, populate_existing=True), lambda t: t is not None and t.thread_id
        )
        assert topic is not None and topic.thread_id is not None
        await emu.world.wait_for(lambda: len(group.sent(topic.thread_id)) >= 4, 8)
        pending = await eventually(
            db,
            lambda s: s.scalar(select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")))),
            lambda p: p is None,
        )
    assert pending is None
    card, combined, photo, last = group.sent(topic.thread_id)
    assert card.buttons
    assert (combined.method, combined.content) == ("sendMessage", "one\n\ntwo <b>not bold</b>\n\nthree")
    assert (photo.method, photo.kind, photo.content) == ("copyMessage", "photo", "a photo")
    assert (last.method, last.content) == ("copyMessage", "four")
    other_topic = group.topic(next(t.thread_id for t in group.topics if t.thread_id != topic.thread_id))
    assert [m.content for m in group.sent(other_topic)][1:] == ["other claim"]


async def test_a_message_the_customer_never_got_is_said_in_the_topic(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    user = emu.user(8203, "Sam")
    _, claim_id = await new_claim(db, 8203)
    user.block()
    async with db.begin() as session:
        staff = await make_staff(session)
        await reply_to_customer(
            session, claim_id=claim_id, actor=Actor.staff(staff.id), text="Can you hear me?", author_id=staff.id
        )
    async with running_worker(db, emu, database_url, group_interval=0.05):
        topic = await eventually(
            db, lambda s: s.get(ClaimTopic, claim_id, populate_existing=True), lambda t: t is not None and t.thread_id
        )
        assert topic is not None
        posts = await emu.world.wait_for(
            lambda: len(group.sent(topic.thread_id)) >= 3 and group.sent(topic.thread_id), 8
        )
    _, web_reply, failure = posts
    assert "Can you hear me?" in (web_reply.content or "")
    assert (failure.content or "").startswith(T("topics.delivery_failed", reason="").split(":")[0])
    assert "blocked" in (failure.content or "")
