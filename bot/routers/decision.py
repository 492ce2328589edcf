"""The decision the customer accepts or disputes (buttons on the message the worker delivered).

Accept closes the claim; Dispute asks for the reason (FSM), then reopens the claim with it (a
photo, voice or file with a caption is a reason too). Whatever the customer sends on the way is
stored, even when the dispute cannot go ahead (the catch-all's `store_inbound`). The
callback data carries the claim and which decision it belongs to; both are re-checked against
the customer, so forged data is "not found" and a stale button is "no longer current".

Replies go after the update's transaction commits (`after_commit`): a Telegram failure on one
cannot undo an Accept or a dispute.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import content_of, esc, keep_unanswered, telegram_ref
from bot.questions import show_choice
from bot.update_scope import after_commit, drop_buttons_after_commit
from shared.customers.models import Customer
from shared.errors import Conflict, InvalidValue, NotFound, TransitionRefused
from shared.i18n import Translator
from shared.interactions.service import AttachmentIn
from shared.notifications.answers import accept_decision, check_dispute, dispute_decision
from shared.notifications.buttons import ACCEPT, DISPUTE, DecisionButton

log = logging.getLogger(__name__)


class DecisionCb(CallbackData, DecisionButton, prefix=DecisionButton.PREFIX):
    """aiogram's factory over the format the desk's decision message writes (shared)."""


class DisputeForm(StatesGroup):
    reason = State()


async def on_decision(
    query: CallbackQuery,
    callback_data: DecisionCb,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
    state: FSMContext,
) -> None:
    ids = {"claim_id": callback_data.claim_id, "customer_id": customer.id, "stamp": callback_data.stamp}
    try:
        if callback_data.action == ACCEPT:
            await accept_decision(session, **ids)
            after_commit(query.answer(t("delivery.decision.accepted")))
            show_choice(query, t, t("delivery.button.accept"))
            return
        if callback_data.action != DISPUTE:
            raise NotFound("claim", callback_data.claim_id)
        claim = await check_dispute(session, **ids)
    except NotFound:
        log.warning(
            "customer %s forged decision callback for claim %s: not theirs", customer.id, callback_data.claim_id
        )
        after_commit(query.answer(t("delivery.not_found"), show_alert=True))
        return
    except (Conflict, TransitionRefused):
        after_commit(query.answer(t("delivery.decision.not_current"), show_alert=True))
        drop_buttons_after_commit(query)
        return
    await state.set_state(DisputeForm.reason)
    await state.update_data(dispute_claim_id=claim.id, dispute_stamp=callback_data.stamp)
    after_commit(query.answer())
    show_choice(query, t, t("delivery.button.dispute"))
    if isinstance(query.message, Message):
        after_commit(query.message.answer(t("delivery.decision.ask_reason", number=esc(claim.number))))


async def _dispute(
    message: Message,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
    state: FSMContext,
    *,
    reason: str,
    attachments: tuple[AttachmentIn, ...] = (),
) -> None:
    data = await state.get_data()
    claim_id, stamp = data.get("dispute_claim_id"), data.get("dispute_stamp")
    await state.clear()
    if claim_id is None or stamp is None:
        await keep_unanswered(message, session, customer.id, None)
        return
    try:
        await dispute_decision(
            session,
            claim_id=int(claim_id),
            customer_id=customer.id,
            stamp=int(stamp),
            reason=reason,
            telegram=telegram_ref(message),
            attachments=attachments,
        )
    except InvalidValue:
        await state.set_state(DisputeForm.reason)
        await state.update_data(dispute_claim_id=claim_id, dispute_stamp=stamp)
        if attachments:  # a file with a blank caption: kept, the reason is still asked for
            await keep_unanswered(message, session, customer.id, int(claim_id))
        after_commit(message.answer(t("delivery.decision.reason_needed")))
    except NotFound:
        # Not the customer's claim (forged state): what they wrote is kept, routed as usual.
        await keep_unanswered(message, session, customer.id, None)
        after_commit(message.answer(t("delivery.not_found")))
    except (Conflict, TransitionRefused):
        # The decision moved on meanwhile (closed by itself, disputed twice): the reason is kept.
        await keep_unanswered(message, session, customer.id, int(claim_id))
        after_commit(message.answer(t("delivery.decision.not_current")))
    # On success the confirmation ("back in work") comes through the outbox, with the reopening.


async def on_reason(
    message: Message, session: AsyncSession, customer: Customer, t: Translator, state: FSMContext
) -> None:
    await _dispute(message, session, customer, t, state, reason=message.text or "")


async def on_reason_not_text(
    message: Message, session: AsyncSession, customer: Customer, t: Translator, state: FSMContext
) -> None:
    """A photo, voice or file as the reason: with a caption it is the reason (the file goes with
    it); without one it is kept on the claim and the reason is asked for in words."""
    content = content_of(message)
    if message.caption and message.caption.strip() and content.attachments:
        await _dispute(message, session, customer, t, state, reason=message.caption, attachments=content.attachments)
        return
    claim_id = (await state.get_data()).get("dispute_claim_id")
    await keep_unanswered(message, session, customer.id, int(claim_id) if claim_id is not None else None)
    after_commit(message.answer(t("delivery.decision.reason_needed")))


def make_router() -> Router:
    router = Router(name="decision")
    router.callback_query.register(on_decision, DecisionCb.filter())
    router.message.register(on_reason, StateFilter(DisputeForm.reason), F.text)
    router.message.register(on_reason_not_text, StateFilter(DisputeForm.reason))
    return router
