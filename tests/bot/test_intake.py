"""Filing a claim through the emulator, in Russian and in English: /start (also with a deep link),
the wizard with files and albums, bad input, Edit, /cancel, a double tap on Submit, a restart in
the middle of the wizard, and the command menu."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import COMMANDS
from bot.sandbox import BotApiEmulator, UserDriver
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.i18n import Translator, get_translator
from shared.interactions.models import Interaction
from tests.bot.conftest import claims_of, eventually, running_bot

LANGS = ["ru", "en"]
MONEY_EXAMPLE = {"ru": "3\u00a0490,00\u00a0₽", "en": "RUB\u00a03,490.00"}
MONEY_3490_50 = {"ru": "3\u00a0490,50\u00a0₽", "en": "RUB\u00a03,490.50"}


async def _open_wizard(user: UserDriver, t: Translator) -> None:
    await user.send_text("/start")
    (greeting,) = await user.wait_for_messages()
    assert [b["text"] for b in greeting.buttons] == [t("bot.menu.new"), t("bot.menu.claims"), t("bot.menu.help")]
    await user.press(greeting, text=t("bot.menu.new"))
    (ask,) = await user.wait_for_messages()
    assert ask.text == t("bot.intake.ask_description")


@pytest.mark.parametrize("lang", LANGS)
async def test_file_a_claim_with_files_album_and_shared_contact(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(5001, first_name="Анна", language_code=lang)
    async with running_bot(emu, db):
        await _open_wizard(user, t)
        # A sticker where text is asked: a clear reply, and the step repeats.
        await user.send_sticker()
        problem, again = await user.wait_for_messages(2)
        assert problem.text == t("bot.intake.need_text") and again.text == t("bot.intake.ask_description")
        await user.send_text("x" * 5000)
        problem, again = await user.wait_for_messages(2)
        assert problem.text == t("bot.intake.too_long", limit=4096)
        # A photo with a caption answers step 1; the caption is echoed escaped later.
        await user.send_photo(caption="Коробка <b>помята</b> & порвана")
        (ask_files,) = await user.wait_for_messages()
        assert ask_files.text == t("bot.intake.ask_files")
        # An album is acknowledged once (at its first item), however many items it has.
        await user.send_album([("photo", None), ("document", b"%PDF-1.4 act", "act.pdf")])
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.intake.file_added", count=2)
        await user.send_voice()
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.intake.file_added", count=4)
        await user.press(ack, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
        assert ask_order.text == t("bot.intake.ask_order")
        await user.send_text("A-123")
        (ask_remedy,) = await user.wait_for_messages()
        await user.send_text("just give me money")  # buttons are asked for
        (use_buttons,) = await user.wait_for_messages()
        assert use_buttons.text == t("bot.intake.use_buttons")
        # Asked again: the earlier question keeps no buttons, the new one has them.
        assert ask_remedy.buttons == [] and use_buttons.buttons
        await user.press(use_buttons, text=t("remedy.refund"))
        # A refund asks how much: a bad amount is explained and the question asked again.
        (ask_amount,) = await user.wait_for_messages()
        assert ask_amount.text == t("bot.intake.ask_amount", example=MONEY_EXAMPLE[lang])
        await user.send_text("0")
        bad, ask_amount = await user.wait_for_messages(2)
        assert bad.text == t("bot.intake.bad_amount")
        await user.send_text("3 490,50" if lang == "ru" else "3,490.50")
        (ask_phone,) = await user.wait_for_messages()
        assert ask_amount.text == t("bot.intake.ask_amount", example=MONEY_EXAMPLE[lang]) + " — " + MONEY_3490_50[lang]
        assert ask_amount.buttons == []
        assert ask_phone.text == t("bot.intake.ask_phone")
        assert user.keyboard is not None
        await user.send_text("not a phone")
        (bad_phone,) = await user.wait_for_messages()
        assert bad_phone.text == t("bot.intake.bad_phone")
        await user.tap_keyboard(t("bot.intake.share_phone"))
        saved, summary = await user.wait_for_messages(2)
        assert saved.text == t("bot.intake.phone_saved", phone="+79000005001")
        # Customer text is escaped for HTML: the tags arrive as text, not as formatting.
        assert "Коробка <b>помята</b> & порвана" in summary.text
        assert all(e["type"] != "bold" or e["offset"] == 0 for e in summary.entities)
        assert t("remedy.refund") in summary.text and "A-123" in summary.text
        assert t("bot.intake.summary_amount", amount=MONEY_3490_50[lang]) in summary.text
        await user.press(summary, text=t("bot.intake.submit"))
        (registered,) = await user.wait_for_messages()
        claims = await eventually(db, claims_of, lambda c: len(c) == 1)
    claim = claims[0]
    assert registered.text == t("bot.intake.registered", number=claim.number, hours=24).replace("<b>", "").replace(
        "</b>", ""
    )
    assert registered.buttons[0]["text"] == t("bot.claims.open")
    assert (claim.remedy, claim.order_ref, claim.description) == ("refund", "A-123", "Коробка <b>помята</b> & порвана")
    assert claim.amount_claimed == Decimal("3490.50")
    async with db() as session:
        customer = await session.get_one(Customer, claim.customer_id)
        first = await session.scalar(select(Interaction).where(Interaction.claim_id == claim.id))
    assert customer.phone == "+79000005001" and customer.language == lang
    assert first is not None and first.direction == "inbound"
    assert sorted(a.kind for a in first.attachments) == ["document", "photo", "photo", "voice"]
    assert {a.file_name for a in first.attachments} >= {"act.pdf"}


@pytest.mark.parametrize("lang", LANGS)
async def test_deep_link_prefills_order_edit_and_known_phone(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(5002, first_name="Ivan", language_code=lang)
    async with running_bot(emu, db):
        await user.send_text("/start ORDER-42")
        (greeting,) = await user.wait_for_messages()
        assert "ORDER-42" in greeting.text and "Ivan" in greeting.text
        await user.press(greeting, text=t("bot.menu.new"))
        await user.wait_for_messages()
        await user.send_text("Курьер опоздал на 3 дня")
        (ask_files,) = await user.wait_for_messages()
        await user.send_text("и нагрубил")  # more words join the description
        (added,) = await user.wait_for_messages()
        assert added.text == t("bot.intake.text_added")
        await user.press(added, text=t("bot.intake.done"))
        (ask_remedy,) = await user.wait_for_messages()  # the order step is skipped: prefilled
        assert ask_remedy.text == t("bot.intake.ask_remedy")
        await user.press(ask_remedy, text=t("remedy.apology"))
        await user.wait_for_messages()  # phone asked
        await user.send_text("8 (912) 345-67-89")
        _, summary = await user.wait_for_messages(2)
        assert "ORDER-42" in summary.text and "+79123456789" in summary.text
        # Edit the order, then come straight back to the summary.
        await user.press(summary, text=t("bot.intake.edit"))
        (which,) = await user.wait_for_messages()
        await user.press(which, text=t("bot.intake.field.order"))
        await user.wait_for_messages()
        await user.send_text("ORDER-43")
        (summary,) = await user.wait_for_messages()
        assert "ORDER-43" in summary.text
        await user.press(summary, text=t("bot.intake.submit"))
        await user.wait_for_messages()
        # A second claim: the phone is known now, so the wizard does not ask for it.
        await user.send_text("/new")
        await user.wait_for_messages()
        await user.send_text("Second problem")
        (ask_files,) = await user.wait_for_messages()
        await user.press(ask_files, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
        assert ask_order.text == t("bot.intake.ask_order")  # the deep link prefilled one claim only
        await user.press(ask_order, text=t("bot.intake.skip"))
        (ask_remedy,) = await user.wait_for_messages()
        await user.press(ask_remedy, text=t("remedy.other"))
        (ask_other,) = await user.wait_for_messages()
        assert ask_other.text == t("bot.intake.ask_remedy_other")
        await user.send_text("A gift card")
        (summary,) = await user.wait_for_messages()
        assert summary.text.startswith(t("bot.intake.summary_title").replace("<b>", "").replace("</b>", ""))
        await user.press(summary, text=t("bot.intake.submit"))
        await user.wait_for_messages()
        claims = await eventually(db, claims_of, lambda c: len(c) == 2)
    assert [(c.order_ref, c.remedy, c.remedy_text) for c in claims] == [
        ("ORDER-43", "apology", None),
        (None, "other", "A gift card"),
    ]
    assert claims[0].description == "Курьер опоздал на 3 дня\nи нагрубил"


@pytest.mark.parametrize("lang", LANGS)
async def test_cancel_at_any_step_and_double_tap_submit(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(5003, first_name="Olga", language_code=lang)
    async with running_bot(emu, db):
        await user.send_text("/cancel")
        (nothing,) = await user.wait_for_messages()
        assert nothing.text == t("bot.intake.nothing_to_cancel")
        await _open_wizard(user, t)
        await user.send_text("Broken kettle")
        (ask_files,) = await user.wait_for_messages()
        await user.press(ask_files, text=t("bot.intake.done"))
        await user.wait_for_messages()
        await user.send_text("/cancel")
        cancelled, menu = await user.wait_for_messages(2)
        assert cancelled.text == t("bot.intake.cancelled") and menu.buttons
        await user.send_text("after cancel")  # not a wizard answer any more: stored as a message
        (offer,) = await user.wait_for_messages()
        assert offer.text == t("bot.route.no_claim")
        # Cancel with the button on the remedy step.
        await user.press(offer, text=t("bot.menu.new"))
        await user.wait_for_messages()
        await user.send_text("Broken kettle again")
        (ask_files,) = await user.wait_for_messages()
        await user.press(ask_files, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
        await user.press(ask_order, text=t("bot.intake.skip"))
        (ask_remedy,) = await user.wait_for_messages()
        await user.press(ask_remedy, text=t("remedy.repair"))
        await user.wait_for_messages()
        await user.send_contact("+79990001122")
        _, summary = await user.wait_for_messages(2)
        # Two taps reach the bot before it answers the first: one claim.
        first = await user.press(summary, text=t("bot.intake.submit"))
        second = await user.press(summary, text=t("bot.intake.submit"))
        (registered,) = await user.wait_for_messages()
        assert t("bot.intake.registered", number="", hours=24).split("<b>")[0] in registered.text
        answer = await user.wait_for_answer(second)
        await user.wait_for_answer(first)
        claims = await eventually(db, claims_of, lambda c: len(c) >= 1)
        await user.sleep_until_quiet(0.2)
    assert len(claims) == 1 and claims[0].remedy == "repair"
    assert answer["text"] == t("bot.intake.already_submitted", number=claims[0].number)
    assert len([m for m in user.messages if m.text and claims[0].number in m.text]) == 1


async def test_restart_in_the_middle_of_the_wizard(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    t = get_translator("ru")
    user = emu.user(5004, first_name="Пётр", language_code="ru")
    async with running_bot(emu, db):
        await _open_wizard(user, t)
        await user.send_text("Не работает пылесос")
        (ask_files,) = await user.wait_for_messages()
        assert ask_files.text == t("bot.intake.ask_files")
    # A new process: new Dispatcher, new storage object, same database.
    async with running_bot(emu, db):
        await user.send_document(b"%PDF-1.4 warranty", "warranty.pdf")
        (ack,) = await user.wait_for_messages()
        assert ack.text == t("bot.intake.file_added", count=1)
        await user.press(ack, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
        await user.press(ask_order, text=t("bot.intake.skip"))
        (ask_remedy,) = await user.wait_for_messages()
        await user.press(ask_remedy, text=t("remedy.replacement"))
        await user.wait_for_messages()
        await user.send_text("+7 900 111-22-33")
        _, summary = await user.wait_for_messages(2)
    async with running_bot(emu, db):
        await user.press(summary, text=t("bot.intake.submit"))
        (registered,) = await user.wait_for_messages()
        claims = await eventually(db, claims_of, lambda c: len(c) == 1)
    assert claims[0].description == "Не работает пылесос" and claims[0].remedy == "replacement"
    async with db() as session:
        claim = await session.get_one(Claim, claims[0].id)
        files = (await session.scalars(select(Interaction).where(Interaction.claim_id == claim.id))).one().attachments
    assert [(f.kind, f.file_name) for f in files] == [("document", "warranty.pdf")]
    assert claim.number in registered.text


async def test_command_menu_in_both_languages(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    async with running_bot(emu, db):
        pass
    for lang in LANGS:
        t = get_translator(lang)
        assert emu.commands_for(lang) == [{"command": c, "description": t(f"bot.cmd.{c}")} for c in COMMANDS]
    assert [c["command"] for c in emu.commands_for("")] == list(COMMANDS)


@pytest.mark.parametrize("lang", LANGS)
async def test_other_remedy_asks_what_exactly(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], lang: str
) -> None:
    t = get_translator(lang)
    user = emu.user(5010 + LANGS.index(lang), first_name="Вера", language_code=lang)
    wish = "<b>Заменить</b> на модель с таймером"
    async with running_bot(emu, db):
        await _open_wizard(user, t)
        await user.send_text("Сломался чайник")
        (ask_files,) = await user.wait_for_messages()
        await user.press(ask_files, text=t("bot.intake.done"))
        (ask_order,) = await user.wait_for_messages()
        await user.press(ask_order, text=t("bot.intake.skip"))
        (ask_remedy,) = await user.wait_for_messages()
        await user.press(ask_remedy, text=t("remedy.other"))
        (ask_other,) = await user.wait_for_messages()
        assert ask_other.text == t("bot.intake.ask_remedy_other")
        await user.send_text("x" * 1001)  # too long: said so, and asked again
        too_long, again = await user.wait_for_messages(2)
        assert too_long.text == t("bot.intake.too_long", limit=1000)
        assert again.text == t("bot.intake.ask_remedy_other")
        await user.send_text(wish)
        (ask_phone,) = await user.wait_for_messages()
        assert ask_phone.text == t("bot.intake.ask_phone")
        await user.send_text("+7 900 111-22-33")
        _, summary = await user.wait_for_messages(2)
        assert wish in summary.text  # shown as the customer wrote it (escaped, not as markup)
        await user.press(summary, text=t("bot.intake.submit"))
        await user.wait_for_messages()
        claims = await eventually(db, claims_of, lambda c: len(c) == 1)
    assert claims[0].remedy == "other" and claims[0].remedy_text == wish
