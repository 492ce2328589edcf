"""The customer's conversation, polished (issue 15), through the emulator in Russian and English:
every answer shown on its question with no button left once it is answered, the amount step
(valid, invalid, skipped), My claims with status and due date, a claim's history page by page,
staff answers naming their claim, money and dates as people write them, /help and /lang."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator, UserDriver
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.customers.models import Customer
from shared.formatting import Formats
from shared.i18n import Translator, get_translator
from shared.settings import get_settings
from tests.bot.conftest import claims_of, eventually, running_bot
from tests.delivery.conftest import claim_for, running_worker, staff_reply

LANGS = ["ru", "en"]


def answered(t: Translator, question: str, answer: str) -> str:
    """A question's text once answered, as the customer sees it (the answer's bold is markup)."""
    return t("bot.answered", question=question, answer=answer).replace("<b>", "").replace("</b>", "")


def fmt(lang: str) -> Formats:
    return Formats(lang, get_settings().tz)


async def _open_wizard(user: UserDriver, t: Translator) -> None:
    await user.send_text("/start")
    (greeting,) = await user.wait_for_messages()
    await user.press(greeting, text=t("bot.menu.new"))
    await user.wait_for_messages()


@pytest.mark.parametrize("lang", LANGS)
async def test_every_wizard_answer_is_shown_on_its_question_and_no_button_stays(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(5101, first_name="Вера", language_code=lang)
    async with running_bot(emu, db):
        await _open_wizard(user, t)
        ask_description = user.messages[-1]
        await user.send_text("Чайник течёт")
        (ask_files,) = await user.wait_for_messages()
        await user.wait_for(lambda _: ask_description.reply_markup is None)
        assert ask_description.text == answered(t, t("bot.intake.ask_description"), "Чайник течёт")

        await user.press(ask_files, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
        assert ask_files.text == answered(t, t("bot.intake.ask_files"), t("bot.intake.summary_files", count=0))
        assert ask_files.reply_markup is None

        # Step 3 answered in words: its Skip button goes, the answer shows on it.
        await user.send_text("A-77")
        (ask_remedy,) = await user.wait_for_messages()
        await user.wait_for(lambda _: ask_order.reply_markup is None)
        assert ask_order.text == answered(t, t("bot.intake.ask_order"), "A-77")

        await user.press(ask_remedy, text=t("remedy.compensation"))
        (ask_amount,) = await user.wait_for_messages()
        assert ask_remedy.text == answered(t, t("bot.intake.ask_remedy"), t("remedy.compensation"))
        assert ask_remedy.reply_markup is None

        # The amount: skipped here.
        await user.press(ask_amount, text=t("bot.intake.skip"))
        (ask_phone,) = await user.wait_for_messages()
        assert ask_amount.text.endswith("— " + t("bot.intake.answer.skipped")) and ask_amount.reply_markup is None

        await user.send_text("+7 912 345-67-89")
        _, summary = await user.wait_for_messages(2)
        assert ask_phone.text == answered(t, t("bot.intake.ask_phone"), "+79123456789")
        assert t("bot.intake.summary_amount", amount="—") in summary.text

        # Edit: the summary shows the choice; the field chosen shows on "which?".
        await user.press(summary, text=t("bot.intake.edit"))
        (which,) = await user.wait_for_messages()
        assert summary.text.endswith("— " + t("bot.intake.edit")) and summary.reply_markup is None
        await user.press(which, text=t("bot.intake.field.remedy"))
        (ask_remedy_again,) = await user.wait_for_messages()
        assert which.text == answered(t, t("bot.intake.edit_which"), t("bot.intake.field.remedy"))
        await user.press(ask_remedy_again, text=t("remedy.replacement"))
        (review,) = await user.wait_for_messages()  # no amount for a replacement: the review again
        assert t("bot.intake.summary_amount", amount="—") not in review.text
        await user.press(review, text=t("bot.intake.submit"))
        (registered,) = await user.wait_for_messages()
        assert review.text.endswith("\n\n— " + t("bot.intake.answer.submitted"))  # below the review
        claims = await eventually(db, claims_of, lambda c: len(c) == 1)
    assert claims[0].remedy == "replacement" and claims[0].amount_claimed is None
    # No question keeps a button: only the menu (/start's, a way back in at any time) and the
    # last message (open the claim) have them.
    with_buttons = [m for m in user.messages if m.reply_markup and "inline_keyboard" in m.reply_markup]
    assert with_buttons == [user.messages[0], registered]
    assert user.messages[0].buttons[0]["text"] == t("bot.menu.new")


@pytest.mark.parametrize("lang", LANGS)
async def test_amount_valid_invalid_and_kept(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(5102, first_name="Олег", language_code=lang)
    async with running_bot(emu, db):
        await _open_wizard(user, t)
        await user.send_text("Не та модель")
        (ask_files,) = await user.wait_for_messages()
        await user.press(ask_files, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
        await user.press(ask_order, text=t("bot.intake.skip"))
        (ask_remedy,) = await user.wait_for_messages()
        assert ask_order.text.endswith("— " + t("bot.intake.answer.skipped"))
        await user.press(ask_remedy, text=t("remedy.refund"))
        (ask_amount,) = await user.wait_for_messages()
        for bad_amount in ("много", "-5", "1e9", "0"):
            await user.send_text(bad_amount)
            problem, again = await user.wait_for_messages(2)
            assert problem.text == t("bot.intake.bad_amount")
            await user.wait_for(lambda _, old=ask_amount: old.reply_markup is None)  # the old question: no buttons
            ask_amount = again
        await user.send_text("12 990")
        await user.wait_for_messages()  # the phone
        shown = fmt(lang).money(Decimal("12990"), "RUB")
        assert shown == {"ru": "12\u00a0990,00\u00a0₽", "en": "RUB\u00a012,990.00"}[lang]
        await user.wait_for(lambda _: ask_amount.reply_markup is None)
        assert ask_amount.text.endswith("— " + shown)
        await user.send_text("+7 912 000-11-22")
        _, review = await user.wait_for_messages(2)
        assert t("bot.intake.summary_amount", amount=shown) in review.text
        await user.press(review, text=t("bot.intake.submit"))
        await user.wait_for_messages()
        claims = await eventually(db, claims_of, lambda c: len(c) == 1)
    assert claims[0].amount_claimed == Decimal("12990.00") and claims[0].currency == "RUB"


async def _claim_with_answers(db: async_sessionmaker[AsyncSession], emu: BotApiEmulator, lang: str, answers: int):
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, emu, language=lang)
        await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
    for n in range(answers):
        await staff_reply(db, claim, staff, f"Ответ {n + 1}: проверяем <склад>")
    async with db() as session:
        claim = await session.get_one(Claim, claim.id)
    return claim, staff


@pytest.mark.parametrize("lang", LANGS)
async def test_staff_answers_name_the_claim_and_history_pages(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, lang: str
) -> None:
    t = get_translator(lang)
    claim, _ = await _claim_with_answers(db, emu, lang, answers=9)
    async with db() as session:
        customer = await session.get_one(Customer, claim.customer_id)
    assert customer.telegram_chat_id is not None
    user = emu.user(customer.telegram_chat_id)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        taken, *replies = await user.wait_for_messages(10, timeout=15)
        assert claim.number in taken.text
        # Every staff answer names the claim it is about (a customer may have several).
        for n, reply in enumerate(replies, start=1):
            head = t("delivery.staff_reply", number=claim.number, text="").replace("<b>", "").replace("</b>", "")
            assert reply.text.startswith(head.strip()) and reply.text.endswith(f"Ответ {n}: проверяем <склад>")

        await user.send_text("/claims")
        (mine,) = await user.wait_for_messages()
        due = fmt(lang).day_time(claim.due_at)
        line = t(
            "bot.claims.line_open",
            number=claim.number,
            date=fmt(lang).day(claim.registered_at),
            status=t("bot.status.in_progress"),
            due=due,
        )
        assert line in mine.text and "—" not in mine.text.split(due)[-1]
        assert "итог" not in mine.text.lower() and "result" not in mine.text.lower()
        await user.press(mine, text=t("bot.claims.button", number=claim.number, status=t("bot.status.in_progress")))
        (card,) = await user.wait_for_messages()
        assert t("bot.claim.due", due=due) in card.text
        await user.press(card, text=t("bot.claims.history"))
        title = t("bot.history.title", number=claim.number).replace("<b>", "").replace("</b>", "")
        await user.wait_for(lambda _: card.text.startswith(title))
        first_page = card.text.splitlines()
        # registered, taken into work, then the answers: 8 a page, the 11th on page 2.
        assert first_page[0] == title
        assert first_page[1].endswith(t("bot.history.registered", date="").strip())
        assert first_page[2].endswith(t("bot.history.taken", date="").strip())
        assert len(first_page) == 1 + 8
        assert first_page[3].endswith("Ответ 1: проверяем <склад>")
        assert first_page[1].startswith(fmt(lang).day_time(claim.registered_at))
        pager = [b["text"] for b in card.buttons]
        assert t("bot.page.of", page=1, pages=2) in pager
        await user.press(card, text=t("bot.page.next"))
        await user.wait_for(lambda _: t("bot.page.of", page=2, pages=2) in [b["text"] for b in card.buttons])
        second_page = card.text.splitlines()
        assert len(second_page) == 1 + 3 and second_page[-1].endswith("Ответ 9: проверяем <склад>")
        await user.press(card, text=t("bot.history.back"))
        await user.wait_for(lambda _: t("bot.claims.history") in [b["text"] for b in card.buttons])


@pytest.mark.parametrize("lang", LANGS)
async def test_help_in_three_lines_and_lang_switches_everything(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    other = "en" if lang == "ru" else "ru"
    u = get_translator(other)
    user = emu.user(5103, first_name="Лев", language_code=lang)
    async with running_bot(emu, db):
        await user.send_text("/help")
        (help_text,) = await user.wait_for_messages()
        assert help_text.text == t("bot.help.text") and len(help_text.text.splitlines()) == 3
        await user.send_text("/lang")
        (choose,) = await user.wait_for_messages()
        await user.press(choose, text={"ru": "Русский", "en": "English"}[other])
        (done,) = await user.wait_for_messages()
        assert done.text == u("bot.lang.set")
        assert choose.reply_markup is None and choose.text.endswith("— " + {"ru": "Русский", "en": "English"}[other])
        assert [b["text"] for b in done.buttons] == [u("bot.menu.new"), u("bot.menu.claims"), u("bot.menu.help")]
        await user.send_text("/help")
        (help_text,) = await user.wait_for_messages()
        assert help_text.text == u("bot.help.text")
        await user.send_text("/claims")
        (none,) = await user.wait_for_messages()
        assert none.text == u("bot.claims.none") and none.buttons[0]["text"] == u("bot.menu.new")
        await user.press(none, text=u("bot.menu.new"))
        (ask,) = await user.wait_for_messages()
        assert ask.text == u("bot.intake.ask_description") and ask.buttons[0]["text"] == u("bot.intake.cancel")


def test_money_and_dates_as_people_write_them() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    this_year = datetime.now(moscow).year
    moment = datetime(this_year, 11, 28, 11, 5, tzinfo=UTC)  # 14:05 in Moscow
    assert Formats("ru", moscow).money(Decimal("3490"), "RUB") == "3\u00a0490,00\u00a0₽"
    assert Formats("ru", moscow).day_time(moment) == "28 ноября, 14:05"
    assert Formats("en", moscow).day_time(moment) == "November 28, 14:05"
    assert Formats("ru", moscow).day_time(moment.replace(year=this_year - 1)).startswith("28 ноября")
