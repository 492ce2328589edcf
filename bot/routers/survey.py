"""The satisfaction survey on the closing message: a rating 1-5, then an optional comment.

Once per claim (a closed claim never reopens): a second press, or a press by anyone but the
claim's customer, changes nothing ("already rated" / "not found"). Replies go after the
update's transaction commits (`after_commit`): a failed one loses no rating.
"""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import questions
from bot.content import esc, keep_unanswered
from bot.questions import show_choice
from bot.update_scope import after_commit, drop_buttons_after_commit
from shared.customers.models import Customer
from shared.errors import Conflict, InvalidValue, NotFound
from shared.i18n import Translator
from shared.notifications.answers import comment_rating, rate_claim
from shared.notifications.buttons import SKIP_COMMENT, SurveyButton

log = logging.getLogger(__name__)


class SurveyCb(CallbackData, SurveyButton, prefix=SurveyButton.PREFIX):
    """aiogram's factory over the format the desk's closing message writes (shared)."""


class SurveyForm(StatesGroup):
    comment = State()


async def on_score(
    query: CallbackQuery,
    callback_data: SurveyCb,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
    state: FSMContext,
) -> None:
    if callback_data.score == SKIP_COMMENT:
        after_commit(query.answer())
        if isinstance(query.message, Message):
            await questions.answered(query.message, state, t, t("bot.intake.answer.skipped"), pressed=query)
        else:
            drop_buttons_after_commit(query)
        await state.clear()
        return
    try:
        await rate_claim(session, claim_id=callback_data.claim_id, customer_id=customer.id, score=callback_data.score)
    except NotFound:
        log.warning("customer %s forged survey callback for claim %s: not theirs", customer.id, callback_data.claim_id)
        after_commit(query.answer(t("delivery.not_found"), show_alert=True))
        return
    except InvalidValue:
        after_commit(query.answer(t("delivery.not_found"), show_alert=True))
        return
    except Conflict as exc:
        key = "delivery.survey.not_closed" if exc.details.get("field") == "status" else "delivery.survey.already"
        after_commit(query.answer(t(key), show_alert=True))
        drop_buttons_after_commit(query)
        return
    after_commit(query.answer(t("delivery.survey.thanks")))
    show_choice(query, t, t("delivery.survey.your_score", score=callback_data.score))
    await state.set_state(SurveyForm.comment)
    await state.update_data(survey_claim_id=callback_data.claim_id)
    if isinstance(query.message, Message):
        skip = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=t("delivery.survey.skip"),
                        callback_data=SurveyCb(claim_id=callback_data.claim_id, score=SKIP_COMMENT).pack(),
                    )
                ]
            ]
        )
        await questions.ask(query.message, state, t("delivery.survey.ask_comment"), skip)


async def on_comment(
    message: Message, session: AsyncSession, customer: Customer, t: Translator, state: FSMContext
) -> None:
    claim_id = (await state.get_data()).get("survey_claim_id")
    await questions.answered(message, state, t, esc(message.text, 200))
    await state.clear()
    if claim_id is None:
        await keep_unanswered(message, session, customer.id, None)
        return
    try:
        await comment_rating(session, claim_id=int(claim_id), customer_id=customer.id, comment=message.text or "")
    except NotFound:
        await keep_unanswered(message, session, customer.id, None)
        after_commit(message.answer(t("delivery.not_found")))
        return
    except (Conflict, InvalidValue):
        # Commented already (or not a comment the rating can take): what they wrote is still kept.
        await keep_unanswered(message, session, customer.id, int(claim_id))
        after_commit(message.answer(t("delivery.survey.already")))
        return
    after_commit(message.answer(t("delivery.survey.comment_thanks")))


def make_router() -> Router:
    router = Router(name="survey")
    router.callback_query.register(on_score, SurveyCb.filter())
    router.message.register(on_comment, StateFilter(SurveyForm.comment), F.text)
    return router
