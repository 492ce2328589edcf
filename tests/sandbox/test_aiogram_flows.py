"""End-to-end: an unmodified aiogram Dispatcher polling the emulator, a scripted user on the other side."""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)

from bot.sandbox import BotApiEmulator
from tests.sandbox.conftest import polling


async def test_start_deep_link_round_trip(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart(deep_link=True))
    async def start(message: Message, command: CommandObject) -> None:
        assert message.from_user is not None
        await message.answer(f"Привет, <b>{message.from_user.first_name}</b>! Заявка {command.args}", parse_mode="HTML")

    alice = emu.user(1001, first_name="Алиса", language_code="ru")
    async with polling(dp, bot, emu):
        await alice.send_text("/start ORDER-42")
        (reply,) = await alice.wait_for_messages(n=1, timeout=5)
    assert reply.text == "Привет, Алиса! Заявка ORDER-42"
    assert reply.parse_mode == "HTML" and reply.entities == [{"offset": 8, "length": 5, "type": "bold"}]
    assert reply.kind == "text" and alice.last is reply and alice.unread() == []


async def test_callback_buttons_answer_and_edit(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()
    kb = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Да", callback_data="confirm:1")],
            [InlineKeyboardButton(text="Сайт", url="https://example.org")],
        ]
    )

    @dp.message(F.text == "menu")
    async def menu(message: Message) -> None:
        await message.answer("Подтвердить?", reply_markup=kb)

    @dp.callback_query(F.data.startswith("confirm:"))
    async def confirm(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.answer("Готово")
        await query.message.edit_text("Подтверждено")

    alice = emu.user(1002, "Bob")
    async with polling(dp, bot, emu):
        await alice.send_text("menu")
        (menu_msg,) = await alice.wait_for_messages()
        assert menu_msg.button("Да")["callback_data"] == "confirm:1"
        qid = await alice.press(menu_msg, text="Да")
        answer = await alice.wait_for_answer(qid)
        await alice.wait_for(lambda u: u.last.text == "Подтверждено")
    assert answer["text"] == "Готово" and answer["data"] == "confirm:1"
    assert menu_msg.reply_markup is None and menu_msg.history[0]["text"] == "Подтвердить?"
    # The query was answered once; Telegram refuses a second answer and unknown ids alike.
    for bad_id in (qid, "123"):
        try:
            await bot.answer_callback_query(bad_id)
        except TelegramBadRequest as e:
            assert "query is too old" in e.message
        else:
            raise AssertionError("expected TelegramBadRequest")


async def test_files_both_directions(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()
    received: dict[str, Any] = {}

    @dp.message(F.photo)
    async def photo(message: Message, bot: Bot) -> None:
        assert message.photo
        data = await bot.download(message.photo[-1].file_id)
        assert data is not None
        received["photo"] = data.read()
        received["size"] = (message.photo[-1].width, message.photo[-1].height)
        pdf = BufferedInputFile(b"%PDF-1.4 act of acceptance", filename="act.pdf")
        await message.answer_document(pdf, caption="Ваш акт")

    alice = emu.user(1003, "C")
    png = _png_header(320, 200)
    async with polling(dp, bot, emu):
        await alice.send_photo(png, caption="damage")
        (doc,) = await alice.wait_for_messages(timeout=5)
    assert received == {"photo": png, "size": (320, 200)}
    assert doc.kind == "document" and doc.caption == "Ваш акт" and doc.file_name == "act.pdf"
    assert doc.raw["document"]["mime_type"] == "application/pdf"
    assert doc.file_id is not None
    assert await alice.download(doc.file_id) == b"%PDF-1.4 act of acceptance"
    file = await bot.get_file(doc.file_id)
    assert file.file_size == len(b"%PDF-1.4 act of acceptance") and file.file_path
    got = await bot.download_file(file.file_path)
    assert got is not None and got.read() == b"%PDF-1.4 act of acceptance"
    # A file_id can be re-sent without uploading again, as in Telegram.
    again = await bot.send_document(1003, doc.file_id)
    assert again.document is not None and again.document.file_id == doc.file_id


async def test_albums_both_directions(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()
    groups: list[tuple[str | None, str]] = []

    @dp.message(F.media_group_id)
    async def album_part(message: Message) -> None:
        groups.append((message.media_group_id, message.content_type))

    alice = emu.user(1004, "D")
    async with polling(dp, bot, emu):
        parts = await alice.send_album([("photo", b"\xff\xd8jpeg"), ("photo", None)], caption="две фотки")
        await alice.wait_for(lambda u: len(groups) == 2)
    assert {g for g, _ in groups} == {parts[0]["media_group_id"]} and parts[0]["caption"] == "две фотки"
    sent = await bot.send_media_group(
        1004,
        [
            InputMediaPhoto(media=BufferedInputFile(b"a", "a.jpg"), caption="first"),
            InputMediaPhoto(media=BufferedInputFile(b"b", "b.jpg")),
        ],
    )
    assert len(sent) == 2 and sent[0].media_group_id == sent[1].media_group_id is not None
    received = await alice.wait_for_messages(n=2)
    assert [m.kind for m in received] == ["photo", "photo"] and received[0].caption == "first"


async def test_user_edits_contacts_and_documents(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()
    seen: list[str] = []

    @dp.edited_message()
    async def edited(message: Message) -> None:
        seen.append(f"edited:{message.text}")

    @dp.message(F.contact)
    async def contact(message: Message) -> None:
        assert message.contact is not None
        seen.append(f"contact:{message.contact.phone_number}:{message.contact.user_id}")

    @dp.message(F.document)
    async def document(message: Message) -> None:
        assert message.document is not None
        seen.append(f"doc:{message.document.file_name}:{message.document.mime_type}")

    @dp.message(F.voice | F.video | F.sticker | F.audio)
    async def other(message: Message) -> None:
        seen.append(message.content_type)

    alice = emu.user(1005, "E")
    async with polling(dp, bot, emu):
        first = await alice.send_text("adress")
        await alice.edit(first, "address")
        await alice.send_contact("+79001234567")
        await alice.send_document(b"1,2", "table.csv")
        for send in (alice.send_voice, alice.send_video, alice.send_sticker, alice.send_audio):
            await send()
        await alice.wait_for(lambda u: len(seen) == 7)
    assert seen[:3] == ["edited:address", "contact:+79001234567:1005", "doc:table.csv:text/csv"]
    assert sorted(seen[3:]) == ["audio", "sticker", "video", "voice"]


async def test_many_users_in_parallel(emu: BotApiEmulator, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo {message.text}")

    users = [emu.user(2000 + i, f"U{i}") for i in range(20)]
    async with polling(dp, bot, emu):
        for u in users:
            await u.send_text(f"hi {u.id}")
        replies = await asyncio.gather(*(u.wait_for_messages() for u in users))
    assert [r[0].text for r in replies] == [f"echo hi {u.id}" for u in users]


def _png_header(width: int, height: int) -> bytes:
    from bot.sandbox.files import tiny_png

    return tiny_png(width, height)
