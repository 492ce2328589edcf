"""My claims: the customer's claims page by page (an open claim with its status and when we answer,
a decided one with its result), a claim's card with its conversation (paged), its history (paged)
and "Write about this claim". Dates and money as the customer writes them (`shared.formatting`).
Every claim id in callback data is checked against the customer: another customer's claim is
"not found", and the attempt is logged."""

from __future__ import annotations

import logging
import math

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards
from bot.callbacks import ClaimCb, ClaimsPageCb, MenuCb
from bot.content import esc
from bot.update_scope import after_commit
from shared.claims.mine import HistoryEntry, customer_conversation, customer_history, list_customer_claims
from shared.claims.models import Claim
from shared.claims.service import get_customer_claim
from shared.claims.workflow import ClaimStatus
from shared.customers.models import Customer
from shared.enums import Direction
from shared.errors import NotFound
from shared.formatting import Formats
from shared.i18n import Translator
from shared.settings import get_settings

log = logging.getLogger(__name__)

CLAIMS_PER_PAGE = 5
MESSAGES_PER_PAGE = 5
HISTORY_PER_PAGE = 8


def _fmt(t: Translator) -> Formats:
    return Formats(t.language, get_settings().tz)


def _date(claim: Claim, t: Translator) -> str:
    return _fmt(t).day(claim.registered_at)


def _line(claim: Claim, t: Translator) -> str:
    """An open claim shows its status and when we answer; a decided one its result."""
    number, date, status = esc(claim.number), _date(claim, t), t(f"bot.status.{claim.status}")
    if claim.result:
        return t("bot.claims.line", number=number, date=date, status=status, result=t(f"bot.result.{claim.result}"))
    return t("bot.claims.line_open", number=number, date=date, status=status, due=_fmt(t).day_time(claim.due_at) or "—")


async def _claims_page(
    session: AsyncSession, customer: Customer, t: Translator, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    claims, total = await list_customer_claims(
        session, customer_id=customer.id, limit=CLAIMS_PER_PAGE, offset=max(page, 0) * CLAIMS_PER_PAGE
    )
    if total == 0:
        return t("bot.claims.none"), keyboards.file_claim(t)
    pages = math.ceil(total / CLAIMS_PER_PAGE)
    lines = [t("bot.claims.title", total=total)]
    lines += [_line(claim, t) for claim in claims]
    return "\n".join(lines), keyboards.claims_page(t, claims, page, pages)


async def claims_command(message: Message, session: AsyncSession, customer: Customer, t: Translator) -> None:
    text, markup = await _claims_page(session, customer, t, 0)
    after_commit(message.answer(text, reply_markup=markup))


async def claims_button(query: CallbackQuery, session: AsyncSession, customer: Customer, t: Translator) -> None:
    after_commit(query.answer())
    if isinstance(query.message, Message):
        text, markup = await _claims_page(session, customer, t, 0)
        after_commit(query.message.answer(text, reply_markup=markup))


async def claims_page(
    query: CallbackQuery, callback_data: ClaimsPageCb, session: AsyncSession, customer: Customer, t: Translator
) -> None:
    after_commit(query.answer())
    if isinstance(query.message, Message):
        text, markup = await _claims_page(session, customer, t, max(callback_data.page, 0))
        _show(query.message, text, markup)


def _show(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Replace the paged message in place; an unchanged page is not an error."""
    if message.text == text and message.reply_markup == markup:
        return
    after_commit(message.edit_text(text, reply_markup=markup))


async def _own_claim(
    query: CallbackQuery, claim_id: int, session: AsyncSession, customer: Customer, t: Translator
) -> Claim | None:
    try:
        return await get_customer_claim(session, claim_id=claim_id, customer_id=customer.id)
    except NotFound:
        log.warning(
            "forged or stale callback: customer %s (telegram %s) asked for claim %s, which is not theirs",
            customer.id,
            query.from_user.id,
            claim_id,
        )
        after_commit(query.answer(t("bot.error.not_found"), show_alert=True))
        return None


async def open_claim(
    query: CallbackQuery, callback_data: ClaimCb, session: AsyncSession, customer: Customer, t: Translator
) -> None:
    claim = await _own_claim(query, callback_data.claim_id, session, customer, t)
    if claim is None:
        return
    after_commit(query.answer())
    page = max(callback_data.page, 0)
    items, total = await customer_conversation(
        session, claim_id=claim.id, limit=MESSAGES_PER_PAGE, offset=page * MESSAGES_PER_PAGE
    )
    pages = max(1, math.ceil(total / MESSAGES_PER_PAGE))
    lines = [
        t("bot.claim.title", number=esc(claim.number), date=_date(claim, t)),
        t("bot.claim.status", status=t(f"bot.status.{claim.status}")),
    ]
    if claim.result:
        lines.append(t("bot.claim.result", result=t(f"bot.result.{claim.result}")))
    elif claim.due_at is not None:
        lines.append(t("bot.claim.due", due=_fmt(t).day_time(claim.due_at) or "—"))
    if claim.resolution:
        lines.append(t("bot.claim.resolution", text=esc(claim.resolution, 500)))
    if claim.remedy:
        lines.append(t("bot.claim.remedy", remedy=t(f"remedy.{claim.remedy}")))
    if claim.amount_claimed is not None:
        lines.append(t("bot.claim.amount", amount=esc(_fmt(t).money(claim.amount_claimed, claim.currency))))
    if claim.order_ref:
        lines.append(t("bot.claim.order", order=esc(claim.order_ref)))
    lines.append(t("bot.claim.description", text=esc(claim.description, 800)))
    lines.append("")
    lines.append(t("bot.claim.conversation", total=total) if total else t("bot.claim.no_conversation"))
    fmt = _fmt(t)
    for item in items:
        who = t("bot.claim.from_you") if item.direction == Direction.INBOUND else t("bot.claim.from_desk")
        files = t("bot.claim.files", count=len(item.attachments)) if item.attachments else ""
        lines.append(f"<b>{who}</b> {fmt.day_time(item.occurred_at)}: {esc(item.text, 300)}{files}")
    markup = keyboards.claim_card(t, claim, page, pages, can_write=claim.status != ClaimStatus.CLOSED)
    if isinstance(query.message, Message):
        text = "\n".join(lines)
        if callback_data.action == "page":
            _show(query.message, text, markup)
        else:
            after_commit(query.message.answer(text, reply_markup=markup))


def _history_line(entry: HistoryEntry, t: Translator) -> str:
    date = _fmt(t).day_time(entry.at)
    if entry.kind == "decision":
        result = t(f"bot.result.{entry.result}") if entry.result else "—"
        return t("bot.history.decision", date=date, result=result)
    if entry.kind == "answer":
        return t("bot.history.answer", date=date, text=esc(entry.text, 300))
    return t(f"bot.history.{entry.kind}", date=date)


async def claim_history(
    query: CallbackQuery, callback_data: ClaimCb, session: AsyncSession, customer: Customer, t: Translator
) -> None:
    """The claim's short history, a page at a time, in place of the card it was opened from."""
    claim = await _own_claim(query, callback_data.claim_id, session, customer, t)
    if claim is None:
        return
    after_commit(query.answer())
    page = max(callback_data.page, 0)
    entries, total = await customer_history(
        session, claim_id=claim.id, limit=HISTORY_PER_PAGE, offset=page * HISTORY_PER_PAGE
    )
    pages = max(1, math.ceil(total / HISTORY_PER_PAGE))
    text = "\n".join([t("bot.history.title", number=esc(claim.number)), *(_history_line(e, t) for e in entries)])
    if isinstance(query.message, Message):
        _show(query.message, text, keyboards.claim_history(t, claim, page, pages))


async def write_about(
    query: CallbackQuery,
    callback_data: ClaimCb,
    state: FSMContext,
    session: AsyncSession,
    customer: Customer,
    t: Translator,
) -> None:
    claim = await _own_claim(query, callback_data.claim_id, session, customer, t)
    if claim is None:
        return
    if claim.status == ClaimStatus.CLOSED:
        after_commit(query.answer(t("bot.claim.closed"), show_alert=True))
        return
    await state.update_data(writing_claim_id=claim.id)
    after_commit(query.answer())
    if isinstance(query.message, Message):
        after_commit(query.message.answer(t("bot.claim.write_now", number=esc(claim.number))))


def make_router() -> Router:
    router = Router(name="my_claims")
    router.message.register(claims_command, Command("claims"))
    router.callback_query.register(claims_button, MenuCb.filter(F.action == "claims"))
    router.callback_query.register(claims_page, ClaimsPageCb.filter())
    router.callback_query.register(open_claim, ClaimCb.filter(F.action.in_({"open", "page"})))
    router.callback_query.register(claim_history, ClaimCb.filter(F.action == "history"))
    router.callback_query.register(write_about, ClaimCb.filter(F.action == "write"))
    return router
