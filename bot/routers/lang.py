"""/lang: the customer switches between Russian and English; the choice is stored on the customer."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import LangCb
from bot.keyboards import LANGUAGE_NAMES
from bot.questions import show_choice
from bot.update_scope import after_commit
from shared.customers.models import Customer
from shared.customers.service import set_language
from shared.errors import InvalidValue
from shared.i18n import Translator, get_translator


async def lang_command(message: Message, t: Translator) -> None:
    after_commit(message.answer(t("bot.lang.choose"), reply_markup=keyboards.languages()))


async def lang_chosen(
    query: CallbackQuery, callback_data: LangCb, session: AsyncSession, customer: Customer, t: Translator
) -> None:
    try:
        await set_language(session, customer=customer, language=callback_data.lang)
    except InvalidValue:
        after_commit(query.answer(t("bot.lang.unknown"), show_alert=True))
        return
    t = get_translator(customer.language)
    after_commit(query.answer())
    show_choice(query, t, LANGUAGE_NAMES.get(customer.language, customer.language))
    if query.message is not None:
        after_commit(query.message.answer(t("bot.lang.set"), reply_markup=keyboards.menu(t)))


def make_router() -> Router:
    router = Router(name="lang")
    router.message.register(lang_command, Command("lang"))
    router.callback_query.register(lang_chosen, LangCb.filter())
    return router
