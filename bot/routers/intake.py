"""File a claim, step by step: what happened (text and files) -> more files or Done -> order
reference or Skip -> remedy (buttons; "other" then asks what exactly, in words) -> for a refund or
compensation, how much (or Skip) -> phone (shared contact or typed; skipped when known) ->
summary with Submit / Edit / Cancel. /cancel works at every step; bad input repeats the step.

The draft lives in the FSM data (persistent storage), so a customer continues where they were
after a restart. Every question is answered in context (`bot.questions`): its message shows the
answer and loses its buttons. Submit carries the draft's id: a second tap on the same summary finds the draft
already registered (the per-chat lock serialises the taps) and registers nothing.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, questions
from bot.callbacks import IntakeCb, MenuCb
from bot.content import TEXT_LIMIT, attachment_from_dict, attachment_of, attachment_to_dict, esc
from bot.update_scope import after_commit
from shared.claims.intake import IntakeDraft, submit_intake
from shared.customers.models import Customer
from shared.customers.service import normalize_phone
from shared.enums import Remedy
from shared.errors import DomainError, InvalidValue
from shared.formatting import Formats, parse_amount
from shared.i18n import Translator
from shared.interactions.service import TelegramRef
from shared.settings import get_settings

# What "other" means fits in a sentence or two; the claim's description carries the story.
REMEDY_TEXT_LIMIT = 1000

log = logging.getLogger(__name__)

ORDER_LIMIT = 100
# How much of a typed answer its question shows (the summary shows it all).
ANSWER_SHOWN = 200


class Intake(StatesGroup):
    description = State()
    files = State()
    order = State()
    remedy = State()
    remedy_other = State()  # "Other": what exactly the customer wants, in their words
    amount = State()  # a refund or compensation: how much (optional)
    phone = State()
    summary = State()


# -- draft helpers ----------------------------------------------------------------------------------
async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("draft") or {})


async def _save(state: FSMContext, draft: dict[str, Any]) -> None:
    await state.update_data(draft=draft)


async def _drop_draft(state: FSMContext, **extra: Any) -> None:
    data = await state.get_data()
    data.pop("draft", None)
    data.update(extra)
    await state.set_state(None)
    await state.set_data(data)


def _add_file(draft: dict[str, Any], message: Message) -> bool:
    """Add the message's file to the draft; True when the customer should be told (the first
    item of an album is acknowledged, the rest of it silently)."""
    attachment = attachment_of(message)
    if attachment is None:
        return False
    files = draft.setdefault("files", [])
    files.append(attachment_to_dict(attachment))
    group = message.media_group_id
    if group is None:
        return True
    seen = draft.setdefault("albums", [])
    if group in seen:
        return False
    seen.append(group)
    return True


# A refund or compensation is money: the wizard asks how much (optional).
MONEY_REMEDIES = (Remedy.REFUND.value, Remedy.COMPENSATION.value)


def _formats(t: Translator) -> Formats:
    return Formats(t.language, get_settings().tz)


def _ask_amount_text(t: Translator) -> str:
    return t("bot.intake.ask_amount", example=_formats(t).money(Decimal("3490"), get_settings().currency))


async def _ask(step: str, target: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    """Enter `step` and ask its question."""
    draft = await _draft(state)
    if step == "description":
        await state.set_state(Intake.description)
        await questions.ask(target, state, t("bot.intake.ask_description"), keyboards.cancel_only(t))
    elif step == "files":
        await state.set_state(Intake.files)
        await questions.ask(target, state, t("bot.intake.ask_files"), keyboards.files_done(t))
    elif step == "order":
        await state.set_state(Intake.order)
        await questions.ask(target, state, t("bot.intake.ask_order"), keyboards.order_skip(t))
    elif step == "remedy":
        await state.set_state(Intake.remedy)
        await questions.ask(target, state, t("bot.intake.ask_remedy"), keyboards.remedies(t))
    elif step == "amount":
        await state.set_state(Intake.amount)
        await questions.ask(target, state, _ask_amount_text(t), keyboards.order_skip(t))
    elif step == "phone":
        await state.set_state(Intake.phone)
        await questions.ask(target, state, t("bot.intake.ask_phone"), keyboards.share_phone(t))
    else:
        await state.set_state(Intake.summary)
        await questions.ask(target, state, _summary(draft, customer, t), keyboards.summary(t, draft["id"]))


async def _next(after: str, target: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    """Go on after `after`; an edit from the summary goes straight back to the summary."""
    draft = await _draft(state)
    if draft.get("editing"):
        draft["editing"] = False
        await _save(state, draft)
        await _ask("summary", target, state, customer, t)
        return
    order = ("description", "files", "order", "remedy", "amount", "phone", "summary")
    step = order[order.index(after) + 1]
    if step == "order" and draft.get("order_prefilled"):
        step = "remedy"
    if step == "amount" and draft.get("remedy") not in MONEY_REMEDIES:
        step = "phone"
    if step == "phone" and customer.phone:
        step = "summary"
    await _ask(step, target, state, customer, t)


def _remedy_label(draft: dict[str, Any], t: Translator) -> str:
    remedy = draft.get("remedy")
    if not remedy:
        return "—"
    if remedy == Remedy.OTHER and draft.get("remedy_text"):
        return t("bot.intake.remedy_other_said", text=esc(draft["remedy_text"], 500))
    return t(f"remedy.{remedy}")


def _summary(draft: dict[str, Any], customer: Customer, t: Translator) -> str:
    lines = [
        t("bot.intake.summary_title"),
        t("bot.intake.summary_description", text=esc(draft.get("description"), 1500)),
        t("bot.intake.summary_files", count=len(draft.get("files") or [])),
        t("bot.intake.summary_order", order=esc(draft.get("order_ref")) or "—"),
        t("bot.intake.summary_remedy", remedy=_remedy_label(draft, t)),
    ]
    if draft.get("remedy") in MONEY_REMEDIES:
        amount = draft.get("amount")
        shown = _formats(t).money(Decimal(amount), get_settings().currency) if amount else "—"
        lines.append(t("bot.intake.summary_amount", amount=shown))
    lines += [
        t("bot.intake.summary_phone", phone=esc(draft.get("phone") or customer.phone or "—")),
    ]
    return "\n".join(lines)


def _text_problem(message: Message, t: Translator, limit: int = TEXT_LIMIT) -> str | None:
    if message.text is None:
        return t("bot.intake.need_text")
    if not message.text.strip():
        return t("bot.intake.empty")
    if len(message.text) > limit:
        return t("bot.intake.too_long", limit=limit)
    return None


# -- entering and leaving -----------------------------------------------------------------------------
async def begin(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    data = await state.get_data()
    draft: dict[str, Any] = {"id": secrets.token_hex(6), "files": []}
    # The deep link's order reference prefills the next claim only.
    deep_order = data.pop("deep_order", None)
    if deep_order:
        draft["order_ref"] = str(deep_order)[:ORDER_LIMIT]
        draft["order_prefilled"] = True
    data["draft"] = draft
    await state.set_data(data)
    await _ask("description", message, state, customer, t)


async def begin_command(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    await begin(message, state, customer, t)


async def begin_button(query: CallbackQuery, state: FSMContext, customer: Customer, t: Translator) -> None:
    after_commit(query.answer())
    if isinstance(query.message, Message):
        await begin(query.message, state, customer, t)


async def cancel_command(message: Message, state: FSMContext, t: Translator) -> None:
    if await state.get_state() is None:
        after_commit(message.answer(t("bot.intake.nothing_to_cancel"), reply_markup=keyboards.menu(t)))
        return
    await questions.answered(message, state, t, t("bot.intake.answer.cancelled"))
    await _drop_draft(state)
    after_commit(message.answer(t("bot.intake.cancelled"), reply_markup=ReplyKeyboardRemove()))
    after_commit(message.answer(t("bot.menu.title"), reply_markup=keyboards.menu(t)))


async def cancel_button(query: CallbackQuery, state: FSMContext, t: Translator) -> None:
    after_commit(query.answer())
    if await state.get_state() is None:
        return
    if isinstance(query.message, Message):
        await questions.answered(query.message, state, t, t("bot.intake.answer.cancelled"), pressed=query)
        await _drop_draft(state)
        after_commit(query.message.answer(t("bot.intake.cancelled"), reply_markup=keyboards.menu(t)))


# -- steps ----------------------------------------------------------------------------------------
async def description_step(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    draft = await _draft(state)
    if message.text is None and attachment_of(message) is not None:
        tell = _add_file(draft, message)
        if message.caption and message.caption.strip():
            draft["description"] = message.caption.strip()
            draft["description_ref"] = [message.chat.id, message.message_id]
            await _save(state, draft)
            await questions.answered(message, state, t, esc(draft["description"], ANSWER_SHOWN))
            await _next("description", message, state, customer, t)
            return
        await _save(state, draft)
        if tell:
            after_commit(message.answer(t("bot.intake.file_added_need_text", count=len(draft["files"]))))
        return
    problem = _text_problem(message, t)
    if problem:
        after_commit(message.answer(problem))
        await questions.ask(message, state, t("bot.intake.ask_description"), keyboards.cancel_only(t))
        return
    assert message.text is not None
    draft["description"] = message.text.strip()
    draft["description_ref"] = [message.chat.id, message.message_id]
    await _save(state, draft)
    await questions.answered(message, state, t, esc(draft["description"], ANSWER_SHOWN))
    await _next("description", message, state, customer, t)


async def files_step(message: Message, state: FSMContext, t: Translator) -> None:
    draft = await _draft(state)
    if attachment_of(message) is not None:
        if _add_file(draft, message):
            # The acknowledgement asks the step's question again: the one before it loses its buttons.
            added = t("bot.intake.file_added", count=len(draft["files"]))
            await questions.ask(message, state, added, keyboards.files_done(t))
        await _save(state, draft)
        return
    if message.text is not None and message.text.strip():
        # More words about what happened are part of the description.
        combined = f"{draft.get('description', '')}\n{message.text.strip()}".strip()
        if len(combined) > TEXT_LIMIT:
            await questions.ask(message, state, t("bot.intake.too_long", limit=TEXT_LIMIT), keyboards.files_done(t))
            return
        draft["description"] = combined
        await _save(state, draft)
        await questions.ask(message, state, t("bot.intake.text_added"), keyboards.files_done(t))
        return
    await questions.ask(message, state, t("bot.intake.ask_files"), keyboards.files_done(t))


async def files_done(query: CallbackQuery, state: FSMContext, customer: Customer, t: Translator) -> None:
    after_commit(query.answer())
    if isinstance(query.message, Message):
        count = len((await _draft(state)).get("files") or [])
        await questions.answered(query.message, state, t, t("bot.intake.summary_files", count=count), pressed=query)
        await _next("files", query.message, state, customer, t)


async def _text_answer(
    message: Message,
    state: FSMContext,
    customer: Customer,
    t: Translator,
    *,
    step: str,
    field: str,
    limit: int,
    ask: tuple[str, InlineKeyboardMarkup],
) -> None:
    """A step answered in words: a bad answer is explained and `ask` (question, buttons) repeated;
    a good one is kept in the draft's `field`, shown on the question, and the wizard goes on after `step`."""
    problem = _text_problem(message, t, limit)
    if problem:
        after_commit(message.answer(problem))
        await questions.ask(message, state, *ask)
        return
    assert message.text is not None
    draft = await _draft(state)
    draft[field] = message.text.strip()
    await _save(state, draft)
    await questions.answered(message, state, t, esc(draft[field], ANSWER_SHOWN))
    await _next(step, message, state, customer, t)


async def order_step(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    ask = (t("bot.intake.ask_order"), keyboards.order_skip(t))
    await _text_answer(message, state, customer, t, step="order", field="order_ref", limit=ORDER_LIMIT, ask=ask)


async def order_skip(query: CallbackQuery, state: FSMContext, customer: Customer, t: Translator) -> None:
    after_commit(query.answer())
    draft = await _draft(state)
    draft["order_ref"] = None
    await _save(state, draft)
    if isinstance(query.message, Message):
        await questions.answered(query.message, state, t, t("bot.intake.answer.skipped"), pressed=query)
        await _next("order", query.message, state, customer, t)


async def amount_step(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    amount = parse_amount(message.text) if message.text else None
    if amount is None:
        after_commit(message.answer(t("bot.intake.bad_amount")))
        await questions.ask(message, state, _ask_amount_text(t), keyboards.order_skip(t))
        return
    draft = await _draft(state)
    draft["amount"] = str(amount)
    await _save(state, draft)
    await questions.answered(message, state, t, esc(_formats(t).money(amount, get_settings().currency)))
    await _next("amount", message, state, customer, t)


async def amount_skip(query: CallbackQuery, state: FSMContext, customer: Customer, t: Translator) -> None:
    after_commit(query.answer())
    draft = await _draft(state)
    draft["amount"] = None
    await _save(state, draft)
    if isinstance(query.message, Message):
        await questions.answered(query.message, state, t, t("bot.intake.answer.skipped"), pressed=query)
        await _next("amount", query.message, state, customer, t)


async def remedy_chosen(
    query: CallbackQuery, callback_data: IntakeCb, state: FSMContext, customer: Customer, t: Translator
) -> None:
    try:
        remedy = Remedy(callback_data.value)
    except ValueError:
        log.warning("chat %s sent an unknown remedy %r", query.from_user.id, callback_data.value)
        after_commit(query.answer(t("bot.error.not_found"), show_alert=True))
        return
    after_commit(query.answer())
    draft = await _draft(state)
    draft["remedy"] = remedy.value
    draft.pop("remedy_text", None)
    if remedy.value not in MONEY_REMEDIES:
        draft.pop("amount", None)
    await _save(state, draft)
    if isinstance(query.message, Message):
        await questions.answered(query.message, state, t, t(f"remedy.{remedy.value}"), pressed=query)
        if remedy is Remedy.OTHER:
            # No button says what "other" is: ask for it in words before going on.
            await state.set_state(Intake.remedy_other)
            await questions.ask(query.message, state, t("bot.intake.ask_remedy_other"), keyboards.cancel_only(t))
            return
        await _next("remedy", query.message, state, customer, t)


async def remedy_other_step(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    ask = (t("bot.intake.ask_remedy_other"), keyboards.cancel_only(t))
    await _text_answer(
        message, state, customer, t, step="remedy", field="remedy_text", limit=REMEDY_TEXT_LIMIT, ask=ask
    )


async def remedy_needs_button(message: Message, state: FSMContext, t: Translator) -> None:
    await questions.ask(message, state, t("bot.intake.use_buttons"), keyboards.remedies(t))


async def phone_step(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    if message.contact is not None:
        if message.contact.user_id not in (None, message.chat.id):
            after_commit(message.answer(t("bot.intake.own_phone"), reply_markup=keyboards.share_phone(t)))
            return
        raw = message.contact.phone_number
    elif message.text is not None:
        raw = message.text
    else:
        after_commit(message.answer(t("bot.intake.ask_phone"), reply_markup=keyboards.share_phone(t)))
        return
    try:
        phone = normalize_phone(raw)
    except InvalidValue:
        after_commit(message.answer(t("bot.intake.bad_phone"), reply_markup=keyboards.share_phone(t)))
        return
    draft = await _draft(state)
    draft["phone"] = phone
    await _save(state, draft)
    await questions.answered(message, state, t, esc(phone))
    after_commit(message.answer(t("bot.intake.phone_saved", phone=esc(phone)), reply_markup=ReplyKeyboardRemove()))
    await _next("phone", message, state, customer, t)


async def summary_needs_button(message: Message, state: FSMContext, customer: Customer, t: Translator) -> None:
    after_commit(message.answer(t("bot.intake.use_buttons")))
    await _ask("summary", message, state, customer, t)


async def edit_pressed(query: CallbackQuery, state: FSMContext, t: Translator) -> None:
    after_commit(query.answer())
    if isinstance(query.message, Message):
        await questions.answered(query.message, state, t, t("bot.intake.edit"), pressed=query)
        await questions.ask(query.message, state, t("bot.intake.edit_which"), keyboards.edit_fields(t))


async def edit_field(
    query: CallbackQuery, callback_data: IntakeCb, state: FSMContext, customer: Customer, t: Translator
) -> None:
    after_commit(query.answer())
    if callback_data.value not in keyboards.EDITABLE_STEPS or not isinstance(query.message, Message):
        return
    draft = await _draft(state)
    draft["editing"] = True
    await _save(state, draft)
    await questions.answered(query.message, state, t, t(f"bot.intake.field.{callback_data.value}"), pressed=query)
    await _ask(callback_data.value, query.message, state, customer, t)


async def submit(
    query: CallbackQuery,
    callback_data: IntakeCb,
    state: FSMContext,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
) -> None:
    data = await state.get_data()
    draft = dict(data.get("draft") or {})
    if await state.get_state() != Intake.summary.state or draft.get("id") != callback_data.value:
        # A second tap, or a stale summary: the draft was registered (or dropped) already.
        done = data.get("submitted") or {}
        after_commit(query.answer(t("bot.intake.already_submitted", number=done.get("number", "—")), show_alert=False))
        return
    ref = draft.get("description_ref")
    try:
        claim = await submit_intake(
            session,
            customer_id=customer.id,
            draft=IntakeDraft(
                description=draft.get("description") or "",
                remedy=Remedy(draft["remedy"]) if draft.get("remedy") else None,
                remedy_text=draft.get("remedy_text"),
                order_ref=draft.get("order_ref"),
                amount_claimed=Decimal(draft["amount"]) if draft.get("amount") else None,
                phone=draft.get("phone"),
                attachments=tuple(attachment_from_dict(f) for f in draft.get("files") or []),
                telegram=TelegramRef(chat_id=ref[0], message_id=ref[1]) if ref else None,
            ),
        )
    except DomainError as exc:
        log.info("chat %s: claim refused: %s", query.from_user.id, exc)
        after_commit(query.answer(t("bot.intake.refused"), show_alert=True))
        return
    after_commit(query.answer())
    if isinstance(query.message, Message):
        await questions.answered(query.message, state, t, t("bot.intake.answer.submitted"), pressed=query)
    await _drop_draft(state, submitted={"draft": draft["id"], "claim_id": claim.id, "number": claim.number})
    if isinstance(query.message, Message):
        settings = get_settings()
        after_commit(
            query.message.answer(
                t("bot.intake.registered", number=esc(claim.number), hours=settings.sla_first_response_hours),
                reply_markup=keyboards.open_claim(t, claim.id),
            )
        )


def make_router() -> Router:
    router = Router(name="intake")
    m, c = router.message, router.callback_query
    # /cancel first: it must win over every step's catch-all.
    m.register(cancel_command, Command("cancel"))
    c.register(cancel_button, IntakeCb.filter(F.action == "cancel"))
    m.register(begin_command, Command("new"))
    c.register(begin_button, MenuCb.filter(F.action == "new"))

    m.register(description_step, StateFilter(Intake.description))
    m.register(files_step, StateFilter(Intake.files))
    c.register(files_done, StateFilter(Intake.files), IntakeCb.filter(F.action == "done"))
    m.register(order_step, StateFilter(Intake.order))
    c.register(order_skip, StateFilter(Intake.order), IntakeCb.filter(F.action == "skip"))
    c.register(remedy_chosen, StateFilter(Intake.remedy), IntakeCb.filter(F.action == "remedy"))
    m.register(remedy_needs_button, StateFilter(Intake.remedy))
    m.register(remedy_other_step, StateFilter(Intake.remedy_other))
    m.register(amount_step, StateFilter(Intake.amount))
    c.register(amount_skip, StateFilter(Intake.amount), IntakeCb.filter(F.action == "skip"))
    m.register(phone_step, StateFilter(Intake.phone))
    m.register(summary_needs_button, StateFilter(Intake.summary))
    c.register(edit_pressed, StateFilter(Intake.summary), IntakeCb.filter(F.action == "edit"))
    c.register(edit_field, StateFilter(Intake.summary), IntakeCb.filter(F.action == "field"))
    c.register(submit, IntakeCb.filter(F.action == "submit"))
    return router
