"""The catch-all: every message no other router took is stored as an inbound interaction.

Which claim it goes to, and the audit event it leaves, is decided by the shared service
(`shared.interactions.routing.receive_inbound`). The reply (an acknowledgement, the "which
claim?" question, the offer to file a claim) is throttled per chat, the storing never is; it is
sent after the update's transaction commits (`after_commit`).
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import PickClaimCb
from bot.content import content_of, esc, telegram_ref
from bot.throttle import ReplyThrottle
from bot.update_scope import after_commit
from shared.customers.models import Customer
from shared.errors import Conflict, NotFound
from shared.i18n import Translator
from shared.interactions.routing import Received, attach_to_claim, receive_inbound, record_edit

log = logging.getLogger(__name__)


async def any_message(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
    replies: ReplyThrottle,
) -> None:
    content = content_of(message)
    received = await receive_inbound(
        session,
        customer_id=customer.id,
        chosen_claim_id=(await state.get_data()).get("writing_claim_id"),
        text=content.text,
        telegram=telegram_ref(message),
        attachments=content.attachments,
    )
    if received.created:  # the same message again (redelivered under a new update): stored once, answered once
        await acknowledge(message, received, t, replies)


async def acknowledge(message: Message, received: Received, t: Translator, replies: ReplyThrottle) -> None:
    """The reply to a stored message (throttled per chat): the claim it went to, the question
    "which claim?", or the offer to file a claim."""
    chat_id = message.chat.id
    route = received.route
    if route.claim is not None:
        if await replies.allow(chat_id):
            after_commit(message.answer(t("bot.route.stored", number=esc(route.claim.number))))
    elif route.ambiguous:
        if await replies.allow(chat_id, "ask"):
            keyboard = keyboards.pick_claim(t, route.choices, received.interaction.id)
            after_commit(message.answer(t("bot.route.which"), reply_markup=keyboard))
    elif await replies.allow(chat_id):
        after_commit(message.answer(t("bot.route.no_claim"), reply_markup=keyboards.file_claim(t)))


async def edited_message(message: Message, state: FSMContext, session: AsyncSession, customer: Customer) -> None:
    content = content_of(message)
    try:
        await record_edit(
            session,
            customer_id=customer.id,
            chosen_claim_id=(await state.get_data()).get("writing_claim_id"),
            text=content.text,
            telegram=telegram_ref(message, edited=True),
            attachments=content.attachments,
        )
    except NotFound:
        log.warning("customer %s edited message %s that belongs to someone else", customer.id, message.message_id)


async def claim_picked(
    query: CallbackQuery,
    callback_data: PickClaimCb,
    state: FSMContext,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
) -> None:
    try:
        claim, moved = await attach_to_claim(
            session,
            customer_id=customer.id,
            claim_id=callback_data.claim_id,
            from_interaction_id=callback_data.interaction_id,
        )
    except NotFound:
        log.warning(
            "forged or stale callback: customer %s (telegram %s) named claim %s / message %s, not theirs",
            customer.id,
            query.from_user.id,
            callback_data.claim_id,
            callback_data.interaction_id,
        )
        after_commit(query.answer(t("bot.error.not_found"), show_alert=True))
        return
    except Conflict:
        after_commit(query.answer(t("bot.claim.closed"), show_alert=True))
        return
    await state.update_data(writing_claim_id=claim.id)
    # Telegram is called after the commit: a failed answer must not undo the customer's choice.
    after_commit(query.answer())
    if isinstance(query.message, Message):
        after_commit(query.message.edit_text(t("bot.route.moved", number=esc(claim.number), count=len(moved))))


def make_router() -> Router:
    router = Router(name="messages")
    router.callback_query.register(claim_picked, PickClaimCb.filter())
    router.message.register(any_message)
    router.edited_message.register(edited_message)
    return router
