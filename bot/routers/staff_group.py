"""The staff group (STAFF_CHAT_ID): staff work a claim from its topic. Thin: parse the update, call
one service of shared.topics.service (which decides who may act and what it means), answer.

First in ROUTERS: it takes every update of the staff group, so none reaches the customers' routers
(the update middleware lets no other group through at all).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import content_of, telegram_ref
from bot.update_scope import after_commit
from shared.settings import get_settings
from shared.topics.card import TopicButton, staff_translator
from shared.topics.service import press, staff_message


class TopicCb(CallbackData, TopicButton, prefix=TopicButton.PREFIX):
    """aiogram's factory over the format the topic's buttons are written in (shared.topics.card)."""


def in_staff_group(chat_id: int) -> bool:
    return chat_id == get_settings().staff_chat_id


async def group_message(message: Message, session: AsyncSession) -> None:
    if message.from_user is None or message.from_user.is_bot:
        return  # service messages of topics, the bot's own posts
    content = content_of(message)
    await staff_message(
        session,
        chat_id=message.chat.id,
        thread_id=message.message_thread_id if message.is_topic_message else None,
        telegram_user_id=message.from_user.id,
        text=content.text,
        telegram=telegram_ref(message),
        attachments=content.attachments,
    )


async def button_pressed(query: CallbackQuery, callback_data: TopicCb, session: AsyncSession) -> None:
    outcome = await press(session, telegram_user_id=query.from_user.id, button=callback_data)
    t = staff_translator()
    text = t(f"topics.outcome.{outcome.key}")
    if outcome.detail:
        text = f"{text}: {outcome.detail}"
    after_commit(query.answer(text[:200], show_alert=outcome.key in ("refused", "not_allowed")))


async def other_button(query: CallbackQuery) -> None:
    after_commit(query.answer())


async def other_update(_: Message) -> None:
    """Edits and anything else in the staff group: nothing for the desk to do."""


def make_router() -> Router:
    router = Router(name="staff_group")
    router.message.filter(F.chat.func(lambda chat: in_staff_group(chat.id)))
    router.edited_message.filter(F.chat.func(lambda chat: in_staff_group(chat.id)))
    router.callback_query.filter(F.message.chat.func(lambda chat: in_staff_group(chat.id)))
    router.callback_query.register(button_pressed, TopicCb.filter())
    router.callback_query.register(other_button)
    router.message.register(group_message)
    router.edited_message.register(other_update)
    return router
