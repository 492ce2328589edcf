"""Everything else a customer sends is kept as an inbound interaction on the right claim; My claims
with pages and "Write about this claim"; edits; a burst of messages; forged callback data; /lang."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import ClaimCb, PickClaimCb
from bot.sandbox import BotApiEmulator, UserDriver
from bot.sandbox.world import Callback
from shared.actors import Actor
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.enums import Direction, InteractionChannel
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.interactions.service import log_interaction
from tests.bot.conftest import count_interactions, eventually, running_bot
from tests.factories import make_claim

LANGS = ["ru", "en"]


async def seed(
    db: async_sessionmaker[AsyncSession], user_id: int, *, lang: str = "ru", claims: int = 1
) -> tuple[Customer, list[Claim]]:
    async with db.begin() as session:
        customer = Customer(
            name=f"Customer {user_id}", telegram_user_id=user_id, telegram_chat_id=user_id, language=lang, phone=None
        )
        session.add(customer)
        await session.flush()
        made = [
            await make_claim(session, customer=customer, description=f"Problem {i} of {user_id}") for i in range(claims)
        ]
    return customer, made


async def interactions(session: AsyncSession, **where: object) -> list[Interaction]:
    query = select(Interaction).order_by(Interaction.id)
    for key, value in where.items():
        query = query.where(getattr(Interaction, key) == value)
    return list((await session.scalars(query)).all())


async def _all(session: AsyncSession) -> list[Interaction]:
    return await interactions(session)


@pytest.mark.parametrize("lang", LANGS)
async def test_message_without_claim_is_kept_and_offers_a_claim(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(6001, first_name="Nina", language_code=lang)
    async with running_bot(emu, db):
        await user.send_text("Где мой заказ? <script>")
        (offer,) = await user.wait_for_messages()
        assert offer.text == t("bot.route.no_claim")
        assert offer.buttons[0]["text"] == t("bot.menu.new")
        await user.send_location(55.75, 37.61)
        rows = await eventually(db, _all, lambda r: len(r) == 2)
    assert [(r.claim_id, r.direction, r.text) for r in rows] == [
        (None, "inbound", "Где мой заказ? <script>"),
        (None, "inbound", "[location] 55.75, 37.61"),
    ]
    assert rows[0].customer_id is not None and rows[0].tg_chat_id == 6001


@pytest.mark.parametrize("lang", LANGS)
async def test_messages_go_to_the_only_open_claim(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(6002, first_name="Max", language_code=lang)
    _, (claim,) = await seed(db, 6002, lang=lang)
    async with running_bot(emu, db):
        await user.send_text("Any news?")
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.route.stored", number=claim.number)
        await user.send_sticker(emoji="😡")
        await user.send_album([("photo", None), ("video", None)], caption="damage")
        await user.send_voice()
        rows = await eventually(db, _all, lambda r: len(r) == 5)
    assert {r.claim_id for r in rows} == {claim.id}
    assert [r.text for r in rows[:3]] == ["Any news?", "[sticker] 😡", "damage"]
    assert rows[2].tg_media_group_id is not None and rows[2].tg_media_group_id == rows[3].tg_media_group_id
    assert [[a.kind for a in r.attachments] for r in rows] == [[], [], ["photo"], ["video"], ["voice"]]


@pytest.mark.parametrize("lang", LANGS)
async def test_several_open_claims_ask_which(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(6003, first_name="Lev", language_code=lang)
    _, (older, _newer) = await seed(db, 6003, lang=lang, claims=2)
    async with running_bot(emu, db):
        await user.send_text("about the refund")
        (question,) = await user.wait_for_messages()
        assert question.text == t("bot.route.which")
        assert len(question.buttons) == 2 and older.number in " ".join(b["text"] for b in question.buttons)
        await user.send_photo(caption="and this photo")
        await eventually(db, _all, lambda r: len(r) == 2)
        await user.press(question, text=next(b["text"] for b in question.buttons if older.number in b["text"]))
        await user.wait_for(lambda u: question.text == t("bot.route.moved", number=older.number, count=2))
        await user.send_text("one more")  # the choice stands for what follows
        rows = await eventually(db, _all, lambda r: len(r) == 3 and r[-1].claim_id is not None)
    assert [r.claim_id for r in rows] == [older.id, older.id, older.id]


@pytest.mark.parametrize("lang", LANGS)
async def test_my_claims_pages_card_and_write_about_this_claim(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(6004, first_name="Vera", language_code=lang)
    customer, claims = await seed(db, 6004, lang=lang, claims=7)
    target = claims[0]  # the oldest: on the second page
    async with db.begin() as session:
        for i in range(6):
            await log_interaction(
                session,
                actor=Actor.system(),
                direction=Direction.OUTBOUND if i % 2 else Direction.INBOUND,
                channel=InteractionChannel.TELEGRAM,
                text=f"message {i} <i>not markup</i>",
                claim_id=target.id,
            )
        await log_interaction(
            session,
            actor=Actor.system(),
            direction=Direction.INTERNAL,
            channel=InteractionChannel.NOTE,
            text="staff only: do not show",
            claim_id=target.id,
        )
    async with running_bot(emu, db):
        await user.send_text("/claims")
        (page,) = await user.wait_for_messages()
        assert t("bot.claims.title", total=7).replace("<b>", "").replace("</b>", "") in page.text
        claim_buttons = [b for b in page.buttons if b["callback_data"].startswith("c:")]
        assert len(claim_buttons) == 5 and target.number not in page.text
        await user.press(page, text="▶")
        await user.wait_for(lambda u: target.number in (page.text or ""))
        assert page.history  # edited in place
        await user.press(page, text=t("bot.claims.button", number=target.number, status=t("bot.status.new")))
        (card,) = await user.wait_for_messages()
        assert card.text.startswith(t("bot.claim.title", number=target.number, date="").replace("<b>", "")[:12])
        assert "message 0 <i>not markup</i>" in card.text and "staff only" not in card.text
        assert "message 5" not in card.text  # second page of the conversation
        await user.press(card, text="▶")
        await user.wait_for(lambda u: "message 5" in (card.text or ""))
        await user.press(card, text=t("bot.claims.write"))
        (go,) = await user.wait_for_messages()
        assert go.text == t("bot.claim.write_now", number=target.number)
        await user.send_text("Here is what I wanted to add")
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.route.stored", number=target.number)
        rows = await eventually(db, lambda s: interactions(s, claim_id=target.id), lambda r: len(r) == 8)
    assert rows[-1].text == "Here is what I wanted to add" and rows[-1].customer_id == customer.id


async def test_edited_message_is_kept_as_an_edit(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    user = emu.user(6005, first_name="Ada", language_code="en")
    _, (claim,) = await seed(db, 6005)
    async with running_bot(emu, db):
        sent = await user.send_text("adress: Lenina 1")
        await user.wait_for_messages()
        await user.edit(sent, "address: Lenina 10")
        rows = await eventually(db, _all, lambda r: len(r) == 2)
    original, edit = rows
    assert (original.text, original.tg_edit_date, original.edit_of_id) == ("adress: Lenina 1", 0, None)
    assert (edit.text, edit.edit_of_id, edit.claim_id) == ("address: Lenina 10", original.id, claim.id)
    assert edit.tg_message_id == original.tg_message_id and edit.tg_edit_date > 0


async def test_a_burst_of_100_messages_is_all_stored_and_answered_a_few_times(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    """All 100 stored; the acknowledgements are throttled. How many the throttle lets through
    depends on how long the bot took (its window moves), so the bound is computed from that time,
    not assumed: on a loaded machine the burst is handled more slowly, never answered more often
    than the throttle allows. A broken throttle answers (nearly) every message and fails here."""
    user = emu.user(6006, first_name="Spam", language_code="ru")
    _, (claim,) = await seed(db, 6006)
    loop = asyncio.get_running_loop()
    async with running_bot(emu, db) as rb:
        throttle = rb.dp["replies"]
        started = loop.time()
        for i in range(100):
            await user.send_text(f"message {i}")
        stored = await eventually(
            db, lambda s: count_interactions(s, claim_id=claim.id), lambda n: n == 100, timeout=120
        )
        span = loop.time() - started  # every acknowledgement was decided within it
        await user.wait_for_messages(n=1, timeout=60)
        await user.sleep_until_quiet(0.3)
    assert stored == 100
    windows = int(span // throttle.seconds) + 1
    assert 1 <= len(user.messages) <= throttle.limit * windows < 100
    assert all(m.text and claim.number in m.text for m in user.messages)


def _forge(user: UserDriver, emu: BotApiEmulator, data: str) -> str:
    """Push a callback query with arbitrary data, as a modified client could (the driver's press()
    only presses buttons the bot really sent)."""
    message = user.messages[-1]
    cb = Callback(
        id=str(secrets.randbits(62)),
        chat_id=user.id,
        message_id=message.message_id,
        data=data,
        created=time.monotonic(),
    )
    emu.world.callbacks[cb.id] = cb
    emu.world.push_update(
        "callback_query",
        {
            "id": cb.id,
            "from": user.profile,
            "message": user.chat.messages[message.message_id],
            "chat_instance": emu.world.chat_instance(user.id),
            "data": data,
        },
    )
    return cb.id


@pytest.mark.parametrize("lang", LANGS)
async def test_forged_callback_data_gets_not_found(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str, caplog: pytest.LogCaptureFixture
) -> None:
    t = get_translator(lang)
    mallory = emu.user(6007, first_name="Mallory", language_code=lang)
    await seed(db, 6007, lang=lang, claims=2)
    _, (victims,) = await seed(db, 6008)
    async with running_bot(emu, db):
        await mallory.send_text("hello")
        (question,) = await mallory.wait_for_messages()
        interaction_id = int(question.buttons[0]["callback_data"].split(":")[1])
        caplog.set_level(logging.WARNING)
        forged = [
            ClaimCb(action="open", claim_id=victims.id).pack(),
            ClaimCb(action="write", claim_id=victims.id).pack(),
            PickClaimCb(interaction_id=interaction_id, claim_id=victims.id).pack(),
        ]
        answers = []
        for data in forged:
            qid = _forge(mallory, emu, data)
            answers.append(await mallory.wait_for_answer(qid))
        await mallory.sleep_until_quiet(0.2)
        rows = await eventually(db, _all, lambda r: len(r) == 1)
    assert [a["text"] for a in answers] == [t("bot.error.not_found")] * 3
    assert all(a.get("show_alert") for a in answers)
    assert not any(victims.number in (m.text or "") for m in mallory.messages)
    assert rows[0].claim_id is None  # the message was not moved to the victim's claim
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "forged" in r.getMessage()]
    assert len(warnings) == 3 and all(str(victims.id) in w.getMessage() for w in warnings)


async def test_lang_switches_language_and_help(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    en, ru = get_translator("en"), get_translator("ru")
    user = emu.user(6009, first_name="Kate", language_code="en-GB")
    async with running_bot(emu, db):
        await user.send_text("/help")
        (help_en,) = await user.wait_for_messages()
        assert help_en.text == en("bot.help.text")
        await user.send_text("/lang")
        (choose,) = await user.wait_for_messages()
        await user.press(choose, text="Русский")
        (done,) = await user.wait_for_messages()
        assert done.text == ru("bot.lang.set")
        await user.send_text("/help")
        (help_ru,) = await user.wait_for_messages()
        assert help_ru.text == ru("bot.help.text")
        await user.press(help_ru, text=ru("bot.menu.claims"))
        (none,) = await user.wait_for_messages()
        assert none.text == ru("bot.claims.none") != en("bot.claims.none")
    async with db() as session:
        customer = await session.scalar(select(Customer).where(Customer.telegram_user_id == 6009))
    assert customer is not None and customer.language == "ru"
