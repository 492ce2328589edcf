"""/help and the menu's Help button."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot import keyboards
from bot.callbacks import MenuCb
from bot.update_scope import after_commit
from shared.i18n import Translator


async def help_command(message: Message, t: Translator) -> None:
    after_commit(message.answer(t("bot.help.text"), reply_markup=keyboards.menu(t)))


async def help_button(query: CallbackQuery, t: Translator) -> None:
    after_commit(query.answer())
    if query.message is not None:
        after_commit(query.message.answer(t("bot.help.text"), reply_markup=keyboards.menu(t)))


def make_router() -> Router:
    router = Router(name="help")
    router.message.register(help_command, Command("help"))
    router.callback_query.register(help_button, MenuCb.filter(F.action == "help"))
    return router
