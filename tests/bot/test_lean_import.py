"""bot/lean_import.py: aiogram imported with deferred schemas still validates and serialises.

Each check runs in a fresh interpreter, where `bot` is imported before aiogram (as in the bot and
worker processes); the test suite itself may have imported aiogram differently.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_the_types_and_methods_the_project_uses_round_trip() -> None:
    out = run(
        """
        import bot  # the lean import happens here
        from bot import lean_import
        assert lean_import.active(), "lean import not in effect"

        from aiogram.methods import (
            AnswerCallbackQuery, CopyMessage, DeleteMessage, EditMessageReplyMarkup, EditMessageText,
            GetFile, GetMe, GetUpdates, SendChatAction, SendDocument, SendMediaGroup, SendMessage,
            SendPhoto, SetMyCommands, SetWebhook, DeleteWebhook, GetWebhookInfo,
        )
        from aiogram.methods.base import Response
        from aiogram.types import (
            BotCommand, BotCommandScopeDefault, BufferedInputFile, File, ForceReply, InlineKeyboardMarkup,
            InputMediaDocument, InputMediaPhoto, KeyboardButton, Message, ReplyKeyboardMarkup,
            ReplyKeyboardRemove, Update, User, WebhookInfo,
        )
        from aiogram.utils.keyboard import InlineKeyboardBuilder

        import bot.callbacks as cb
        from bot.sandbox.world import BotWorld

        world = BotWorld("1:X")
        from bot.sandbox.world import UserProfile
        chat = world.chat_for(UserProfile(5, "Анна", language_code="ru"))
        msg = world.user_message(chat, {"text": "<b>hi</b>", "photo": [
            {"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]})
        payloads = [
            {"update_id": 1, "message": msg},
            {"update_id": 2, "edited_message": {**msg, "edit_date": 2}},
            {"update_id": 3, "callback_query": {
                "id": "q", "from": chat.user.as_user(), "chat_instance": "1", "message": msg,
                "data": cb.PickClaimCb(claim_id=1, interaction_id=2).pack()}},
            {"update_id": 4, "message": {**msg, "contact": {"phone_number": "+7", "first_name": "A", "user_id": 5}}},
            {"update_id": 5, "message": {
                **msg, "document": {"file_id": "d", "file_unique_id": "e", "file_name": "a.pdf"},
                "media_group_id": "9", "voice": {"file_id": "v", "file_unique_id": "w", "duration": 1}}},
        ]
        for payload in payloads:
            update = Update.model_validate(payload)
            assert update.model_dump(mode="json", exclude_none=True, by_alias=True)["update_id"] == payload["update_id"]
        assert Update.model_validate(payloads[0]).message.from_user.first_name == "Анна"
        assert cb.PickClaimCb.unpack(cb.PickClaimCb(claim_id=7, interaction_id=8).pack()).claim_id == 7

        kb = InlineKeyboardBuilder()
        kb.button(text="x", callback_data=cb.PickClaimCb(claim_id=1, interaction_id=1))
        markups = [
            kb.as_markup(), ReplyKeyboardRemove(), ForceReply(),
            ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="share", request_contact=True)]]),
        ]
        for markup in markups:
            dumped = SendMessage(chat_id=5, text="t", reply_markup=markup).model_dump(exclude_none=True)
            assert dumped["reply_markup"], dumped
        calls = [
            AnswerCallbackQuery(callback_query_id="q", text="t", show_alert=True),
            EditMessageText(chat_id=5, message_id=1, text="t", reply_markup=kb.as_markup()),
            EditMessageReplyMarkup(chat_id=5, message_id=1), DeleteMessage(chat_id=5, message_id=1),
            CopyMessage(chat_id=5, from_chat_id=6, message_id=1), SendChatAction(chat_id=5, action="typing"),
            SendPhoto(chat_id=5, photo="f", caption="c"),
            SendDocument(chat_id=5, document=BufferedInputFile(b"x", "a")),
            SendMediaGroup(chat_id=5, media=[InputMediaPhoto(media="f"), InputMediaPhoto(media="g")]),
            SendMediaGroup(chat_id=5, media=[InputMediaDocument(media="f")]),
            SetMyCommands(commands=[BotCommand(command="start", description="d")], scope=BotCommandScopeDefault()),
            GetFile(file_id="f"), GetMe(), GetUpdates(offset=1, timeout=1),
            SetWebhook(url="http://x", max_connections=4),
            DeleteWebhook(), GetWebhookInfo(),
        ]
        for call in calls:
            call.model_dump(exclude_none=True)
        for cls, result in [
            (Message, msg), (bool, True), (User, chat.user.as_user()), (list[Message], [msg]),
            (File, {"file_id": "f", "file_unique_id": "u", "file_path": "p"}),
            (WebhookInfo, {"url": "", "has_custom_certificate": False, "pending_update_count": 0}),
            (list[Update], payloads),
        ]:
            Response[cls].model_validate({"ok": True, "result": result})
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_every_aiogram_type_and_method_builds() -> None:
    """The whole API surface, not only today's: a schema that cannot be built fails here, not in
    production on the first update that needs it."""
    out = run(
        """
        import bot
        from bot import lean_import
        assert lean_import.active()
        import aiogram.methods as methods
        import aiogram.types as types
        from pydantic import BaseModel

        built = 0
        for module in (types, methods):
            for name in module.__all__:
                cls = getattr(module, name)
                if not (isinstance(cls, type) and issubclass(cls, BaseModel)):
                    continue
                if not cls.__pydantic_generic_metadata__["parameters"]:
                    cls.model_rebuild(raise_errors=True)
                    assert cls.__pydantic_complete__, name
                    built += 1
        print(built)
        """
    )
    assert int(out) > 500
