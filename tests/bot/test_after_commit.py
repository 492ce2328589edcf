"""Telegram failing on a reply of /start, /lang, My claims or /help: what the update stored stays
stored (replies are sent after the update's transaction commits, `bot.fsm.after_commit`), and the
replies queued after the failed one still go."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.customers.models import Customer
from shared.i18n import get_translator
from tests.bot.conftest import eventually, running_bot
from tests.bot.test_messages import interactions, seed


async def test_start_keeps_the_deep_link_when_the_greeting_fails(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    t = get_translator("en")
    user = emu.user(7401, first_name="Ivan", language_code="en")
    async with running_bot(emu, db):
        emu.faults.inject(method="sendMessage", chat_id=7401, kind=500, times=1)
        await user.send_text("/start ORDER-77")
        await emu.world.wait_for(lambda: emu.faults.pending == 0, 5)
        await user.sleep_until_quiet(0.2)
        assert not user.unread()  # the greeting was lost
        await user.send_text("/new")
        await user.wait_for_messages()
        await user.send_text("The parcel never came")
        (ask_files,) = await user.wait_for_messages()
        await user.press(ask_files, text=t("bot.intake.done"))
        (ask_remedy,) = await user.wait_for_messages()
        assert ask_remedy.text == t("bot.intake.ask_remedy")  # the order was noted: prefilled


async def test_lang_is_stored_when_the_callback_answer_fails(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    ru = get_translator("ru")
    user = emu.user(7402, first_name="Kate", language_code="en")
    async with running_bot(emu, db):
        await user.send_text("/lang")
        (choose,) = await user.wait_for_messages()
        emu.faults.inject(method="answerCallbackQuery", kind=500, times=1)
        qid = await user.press(choose, text="Русский")
        (done,) = await user.wait_for_messages()  # queued after the failed answer: still sent
        assert done.text == ru("bot.lang.set")
        assert emu.faults.pending == 0
        assert not [a for a in user.answers if a["callback_query_id"] == qid]
    async with db() as session:
        customer = await session.scalar(select(Customer).where(Customer.telegram_user_id == 7402))
    assert customer is not None and customer.language == "ru"


async def test_write_about_is_remembered_when_the_reply_fails(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    t = get_translator("en")
    user = emu.user(7403, first_name="Vera", language_code="en")
    _, claims = await seed(db, 7403, lang="en", claims=2)  # two open claims: "which?" unless chosen
    target = claims[0]
    async with running_bot(emu, db):
        await user.send_text("/claims")
        (page,) = await user.wait_for_messages()
        await user.press(page, text=t("bot.claims.button", number=target.number, status=t("status.new")))
        (card,) = await user.wait_for_messages()
        emu.faults.inject(method="sendMessage", chat_id=7403, kind=500, times=1)
        qid = await user.press(card, text=t("bot.claims.write"))
        await user.wait_for_answer(qid)  # the answer went; the "write now" message did not
        await emu.world.wait_for(lambda: emu.faults.pending == 0, 5)
        await user.sleep_until_quiet(0.2)
        assert not user.unread()
        await user.send_text("About the first one")
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.route.stored", number=target.number)
        rows = await eventually(db, lambda s: interactions(s, claim_id=target.id), lambda r: len(r) == 1)
    assert [r.text for r in rows] == ["About the first one"]


async def test_help_reply_failure_does_not_break_the_next_update(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    t = get_translator("en")
    user = emu.user(7404, first_name="Nik", language_code="en")
    async with running_bot(emu, db):
        emu.faults.inject(method="sendMessage", chat_id=7404, kind=500, times=1)
        await user.send_text("/help")
        await emu.world.wait_for(lambda: emu.faults.pending == 0, 5)
        await user.send_text("/help")
        (text,) = await user.wait_for_messages()
        assert text.text == t("bot.help.text").replace("<b>", "").replace("</b>", "")
