"""Callback data of every inline button, as aiogram `CallbackData` factories.

Callback data comes back from the client and is untrusted: handlers re-check every id against
the customer (`shared.claims.service.get_customer_claim` and friends) before using it.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class MenuCb(CallbackData, prefix="m"):
    action: str  # new | claims | help


class LangCb(CallbackData, prefix="lg"):
    lang: str


class IntakeCb(CallbackData, prefix="in"):
    """Wizard buttons: done (no more files), skip (order), remedy, submit, edit, field, cancel."""

    action: str
    value: str = ""


class ClaimsPageCb(CallbackData, prefix="cl"):
    page: int


class ClaimCb(CallbackData, prefix="c"):
    """open: a claim's card (new message); page: its conversation page `page` (in place);
    history: its history page `page` (in place); write: "Write about this claim"."""

    action: str
    claim_id: int
    page: int = 0


class PickClaimCb(CallbackData, prefix="pk"):
    """The answer to "which claim is this about?" for the stored message `interaction_id`."""

    interaction_id: int
    claim_id: int
