"""/start (also with a deep-link payload: an order reference that prefills the claim) and the menu."""

from __future__ import annotations

import re

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot import keyboards
from bot.content import esc
from bot.update_scope import after_commit
from shared.customers.models import Customer
from shared.i18n import Translator

# Deep-link payloads are [A-Za-z0-9_-]{1,64} in Telegram; anything else is ignored, not trusted.
_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


async def start(message: Message, command: CommandObject, state: FSMContext, customer: Customer, t: Translator) -> None:
    text = t("bot.start.greeting", name=esc(customer.name.split(" ")[0] or customer.name))
    payload = (command.args or "").strip()
    if payload and _PAYLOAD.match(payload):
        await state.update_data(deep_order=payload)
        text += "\n\n" + t("bot.start.order_noted", order=esc(payload))
    after_commit(message.answer(text, reply_markup=keyboards.menu(t)))


def make_router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    return router
