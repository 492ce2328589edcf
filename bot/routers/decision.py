"""The decision the customer accepts or disputes (buttons on the message the worker delivered).

Accept closes the claim; Dispute asks for the reason (FSM), then reopens the claim with it. The
callback data carries the claim and which decision it belongs to; both are re-checked against
the customer, so forged data is "not found" and a stale button is "no longer current".
"""

from __future__ import annotations

import contextlib
import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import esc, telegram_ref
from shared.customers.models import Customer
from shared.errors import Conflict, InvalidValue, NotFound, TransitionRefused
from shared.i18n import Translator
from shared.notifications.answers import accept_decision, check_dispute, dispute_decision

log = logging.getLogger(__name__)


class DecisionCb(CallbackData, prefix="dc"):
    """Packed as shared.notifications.flows.decision_callback writes it: dc:<a|d>:<claim>:<stamp>."""

    action: str
    claim_id: int
    stamp: int


class DisputeForm(StatesGroup):
    reason = State()


async def _drop_buttons(query: CallbackQuery) -> None:
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_reply_markup(reply_markup=None)


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
        if callback_data.action == "a":
            await accept_decision(session, **ids)
            await query.answer(t("delivery.decision.accepted"))
            await _drop_buttons(query)
            return
        if callback_data.action != "d":
            raise NotFound("claim", callback_data.claim_id)
        claim = await check_dispute(session, **ids)
    except NotFound:
        log.warning(
            "customer %s forged decision callback for claim %s: not theirs", customer.id, callback_data.claim_id
        )
        await query.answer(t("delivery.not_found"), show_alert=True)
        return
    except (Conflict, TransitionRefused):
        await query.answer(t("delivery.decision.not_current"), show_alert=True)
        await _drop_buttons(query)
        return
    await state.set_state(DisputeForm.reason)
    await state.update_data(dispute_claim_id=claim.id, dispute_stamp=callback_data.stamp)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(t("delivery.decision.ask_reason", number=esc(claim.number)))


async def on_reason(
    message: Message, session: AsyncSession, customer: Customer, t: Translator, state: FSMContext
) -> None:
    data = await state.get_data()
    claim_id, stamp = data.get("dispute_claim_id"), data.get("dispute_stamp")
    await state.clear()
    if claim_id is None or stamp is None:
        return
    try:
        await dispute_decision(
            session,
            claim_id=int(claim_id),
            customer_id=customer.id,
            stamp=int(stamp),
            reason=message.text or "",
            telegram=telegram_ref(message),
        )
    except InvalidValue:
        await state.set_state(DisputeForm.reason)
        await state.update_data(dispute_claim_id=claim_id, dispute_stamp=stamp)
        await message.answer(t("delivery.decision.reason_needed"))
    except NotFound:
        await message.answer(t("delivery.not_found"))
    except (Conflict, TransitionRefused):
        await message.answer(t("delivery.decision.not_current"))
    # On success the confirmation ("back in work") comes through the outbox, with the reopening.


async def on_reason_not_text(message: Message, t: Translator) -> None:
    await message.answer(t("delivery.decision.reason_needed"))


def make_router() -> Router:
    router = Router(name="decision")
    router.callback_query.register(on_decision, DecisionCb.filter())
    router.message.register(on_reason, DisputeForm.reason, F.text)
    router.message.register(on_reason_not_text, DisputeForm.reason)
    return router
