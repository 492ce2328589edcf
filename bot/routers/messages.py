"""The catch-all: every message no other router took is stored as an inbound interaction.

Which claim it goes to is decided by the rule of `shared.interactions.routing` (for a plain text
in the same statement that stores it, `store_inbound_text`: the path nearly every message takes);
the reply (an
acknowledgement, the "which claim?" question, the offer to file a claim) is throttled per chat,
the storing never is. Replies are returned, not awaited: aiogram sends them after the update's
transaction committed (in webhook mode inside the webhook response).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiogram import Router
from aiogram.fsm.context import FSMContext
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import PickClaimCb
from bot.content import content_of, esc, telegram_ref
from bot.fsm import after_commit
from bot.middlewares import ReplyThrottle
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.errors import Conflict, NotFound
from shared.i18n import Translator
from shared.interactions.routing import (
    StoredText,
    attach_to_claim,
    open_claims,
    record_edit,
    route_inbound,
    store_inbound,
    store_inbound_text,
)

log = logging.getLogger(__name__)


async def any_message(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
    replies: ReplyThrottle,
) -> Any:
    content = content_of(message)
    chosen = (await state.get_data()).get("writing_claim_id")
    if not content.attachments:
        # The common case, in one statement: route, store, audit (shared.interactions.routing).
        # (Outside a wizard, a known customer's plain text does not even get here: it takes the
        # same statement from `bot.plain_texts`.)
        stored = await store_inbound_text(
            session, customer_id=customer.id, chosen_claim_id=chosen, text=content.text, telegram=telegram_ref(message)
        )
        if not stored.created:
            return None  # the same message again (redelivered): stored once, answered once

        async def choices() -> Sequence[Claim]:
            return await open_claims(session, customer_id=customer.id)

        return await acknowledge(t, replies, stored, message.chat.id, choices, message.answer)
    route = await route_inbound(session, customer_id=customer.id, chosen_claim_id=chosen)
    interaction, created = await store_inbound(
        session,
        customer_id=customer.id,
        claim_id=route.claim.id if route.claim is not None else None,
        text=content.text,
        telegram=telegram_ref(message),
        attachments=content.attachments,
    )
    if not created:
        return None
    stored = StoredText(
        interaction.id,
        route.claim.id if route.claim else None,
        route.claim.number if route.claim else None,
        len(route.choices),
    )

    async def known_choices() -> Sequence[Claim]:
        return route.choices

    return await acknowledge(t, replies, stored, message.chat.id, known_choices, message.answer)


async def acknowledge(
    t: Translator,
    replies: ReplyThrottle,
    stored: StoredText,
    chat_id: int,
    choices: Callable[[], Awaitable[Sequence[Claim]]],
    answer: Callable[..., SendMessage],
) -> SendMessage | None:
    """The reply to a stored message (throttled per chat): the claim it went to, the question
    "which claim?" (buttons from `choices`), or the offer to file a claim. `answer(text=...,
    reply_markup=...)` makes the message (`Message.answer`, or a SendMessage to the chat)."""
    if stored.claim_number is not None:
        if await replies.allow(chat_id):
            return answer(text=t("bot.route.stored", number=esc(stored.claim_number)))
        return None
    if stored.ambiguous:
        if stored.interaction_id is not None and await replies.allow(chat_id, "ask"):
            keyboard = keyboards.pick_claim(t, await choices(), stored.interaction_id)
            return answer(text=t("bot.route.which"), reply_markup=keyboard)
        return None
    if await replies.allow(chat_id):
        return answer(text=t("bot.route.no_claim"), reply_markup=keyboards.file_claim(t))
    return None


async def edited_message(message: Message, state: FSMContext, session: AsyncSession, customer: Customer) -> None:
    content = content_of(message)
    chosen = (await state.get_data()).get("writing_claim_id")
    route = await route_inbound(session, customer_id=customer.id, chosen_claim_id=chosen)
    try:
        await record_edit(
            session,
            customer_id=customer.id,
            text=content.text,
            telegram=telegram_ref(message, edited=True),
            attachments=content.attachments,
            fallback_claim_id=route.claim.id if route.claim is not None else None,
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
