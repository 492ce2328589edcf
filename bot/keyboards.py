"""Inline and reply keyboards; every label is a catalog key in the customer's language."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import ClaimCb, ClaimsPageCb, IntakeCb, LangCb, MenuCb, PickClaimCb
from shared.claims.models import Claim
from shared.enums import Remedy
from shared.i18n import Translator


def menu(t: Translator) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=t("bot.menu.new"), callback_data=MenuCb(action="new"))
    b.button(text=t("bot.menu.claims"), callback_data=MenuCb(action="claims"))
    b.button(text=t("bot.menu.help"), callback_data=MenuCb(action="help"))
    b.adjust(1)
    return b.as_markup()


def file_claim(t: Translator) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=t("bot.menu.new"), callback_data=MenuCb(action="new"))
    return b.as_markup()


# Each language is named in itself: a reader finds their own whatever the bot speaks now.
LANGUAGE_NAMES = {"ru": "Русский", "en": "English"}


def languages() -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        b.button(text=name, callback_data=LangCb(lang=code))
    return b.as_markup()


def cancel_only(t: Translator) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=t("bot.intake.cancel"), callback_data=IntakeCb(action="cancel"))
    return b.as_markup()


def files_done(t: Translator) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=t("bot.intake.done"), callback_data=IntakeCb(action="done"))
    b.button(text=t("bot.intake.cancel"), callback_data=IntakeCb(action="cancel"))
    b.adjust(1)
    return b.as_markup()


def order_skip(t: Translator) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=t("bot.intake.skip"), callback_data=IntakeCb(action="skip"))
    b.button(text=t("bot.intake.cancel"), callback_data=IntakeCb(action="cancel"))
    b.adjust(1)
    return b.as_markup()


def remedies(t: Translator) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for remedy in Remedy:
        b.button(text=t(f"remedy.{remedy.value}"), callback_data=IntakeCb(action="remedy", value=remedy.value))
    b.button(text=t("bot.intake.cancel"), callback_data=IntakeCb(action="cancel"))
    b.adjust(2, 2, 2, 1)
    return b.as_markup()


def share_phone(t: Translator) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=t("bot.intake.share_phone"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def summary(t: Translator, draft: str) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=t("bot.intake.submit"), callback_data=IntakeCb(action="submit", value=draft))
    b.button(text=t("bot.intake.edit"), callback_data=IntakeCb(action="edit"))
    b.button(text=t("bot.intake.cancel"), callback_data=IntakeCb(action="cancel"))
    b.adjust(1)
    return b.as_markup()


EDITABLE_STEPS = ("description", "order", "remedy", "phone")


def edit_fields(t: Translator) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for step in EDITABLE_STEPS:
        b.button(text=t(f"bot.intake.field.{step}"), callback_data=IntakeCb(action="field", value=step))
    b.adjust(2)
    return b.as_markup()


def open_claim(t: Translator, claim_id: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    b.button(text=t("bot.claims.open"), callback_data=ClaimCb(action="open", claim_id=claim_id))
    return b.as_markup()


def claims_page(t: Translator, claims: Sequence[Claim], page: int, pages: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for claim in claims:
        b.row(
            InlineKeyboardButton(
                text=t("bot.claims.button", number=claim.number, status=t(f"bot.status.{claim.status}")),
                callback_data=ClaimCb(action="open", claim_id=claim.id).pack(),
            )
        )
    _pager(b, page, pages, lambda p: ClaimsPageCb(page=p).pack(), t)
    return b.as_markup()


def claim_card(t: Translator, claim: Claim, page: int, pages: int, *, can_write: bool) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    _pager(b, page, pages, lambda p: ClaimCb(action="page", claim_id=claim.id, page=p).pack(), t)
    b.row(
        InlineKeyboardButton(
            text=t("bot.claims.history"), callback_data=ClaimCb(action="history", claim_id=claim.id).pack()
        )
    )
    if can_write:
        b.row(
            InlineKeyboardButton(
                text=t("bot.claims.write"), callback_data=ClaimCb(action="write", claim_id=claim.id).pack()
            )
        )
    b.row(InlineKeyboardButton(text=t("bot.claims.back"), callback_data=ClaimsPageCb(page=0).pack()))
    return b.as_markup()


def claim_history(t: Translator, claim: Claim, page: int, pages: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    _pager(b, page, pages, lambda p: ClaimCb(action="history", claim_id=claim.id, page=p).pack(), t)
    b.row(
        InlineKeyboardButton(text=t("bot.history.back"), callback_data=ClaimCb(action="page", claim_id=claim.id).pack())
    )
    return b.as_markup()


def pick_claim(t: Translator, claims: Sequence[Claim], interaction_id: int) -> InlineKeyboardMarkup:
    b = InlineKeyboardBuilder()
    for claim in claims:
        b.row(
            InlineKeyboardButton(
                text=t("bot.route.claim_button", number=claim.number, subject=claim.subject[:40]),
                callback_data=PickClaimCb(interaction_id=interaction_id, claim_id=claim.id).pack(),
            )
        )
    return b.as_markup()


def _pager(b: InlineKeyboardBuilder, page: int, pages: int, make: Callable[[int], str], t: Translator) -> None:
    if pages <= 1:
        return
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(text=t("bot.page.prev"), callback_data=make(page - 1)))
    row.append(InlineKeyboardButton(text=t("bot.page.of", page=page + 1, pages=pages), callback_data=make(page)))
    if page + 1 < pages:
        row.append(InlineKeyboardButton(text=t("bot.page.next"), callback_data=make(page + 1)))
    b.row(*row)
