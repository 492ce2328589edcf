"""How a claim's topic looks: its name and icon for the status, and the card (its first post) with
the buttons staff press in the topic. The buttons' callback data is defined here, once; the bot's
group router reads it with an aiogram CallbackData built on `TopicButton` (bot/routers/staff_group.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.models import Claim
from shared.claims.workflow import ClaimResult, ClaimStatus
from shared.customers.models import Customer
from shared.i18n import Translator, get_translator
from shared.interactions.models import Attachment, Interaction
from shared.notifications.buttons import ButtonData
from shared.notifications.texts import backoffice_url, esc
from shared.settings import get_settings
from shared.staff.models import StaffUser

NAME_LIMIT = 128  # Telegram's limit on a topic name

# Telegram's topic icons (getForumTopicIconStickers custom emoji ids) for each status.
STATUS_ICONS: dict[str, str] = {
    ClaimStatus.NEW.value: "5379748062124056162",  # ❗
    ClaimStatus.IN_PROGRESS.value: "5377498341074542641",  # ⏳
    ClaimStatus.RESOLVED.value: "5237699328843200968",  # ✅
    ClaimStatus.CLOSED.value: "5309832892262654231",  # 🔒
}

# Button actions.
TAKE = "take"
REASON = "reason"
DEPARTMENT = "dept"
RESOLVE = "resolve"
RESULT = "result"  # arg: the index of the result in RESULTS
SET_REASON = "setreason"  # arg: the reason's id
SET_DEPARTMENT = "setdept"  # arg: the department's id
CONFIRM = "confirm"
CANCEL = "cancel"
RESULTS: tuple[ClaimResult, ...] = tuple(ClaimResult)


class TopicButton(ButtonData):
    """A button in a claim's topic: `action` on `claim_id`, with `arg` where the action needs one."""

    PREFIX: ClassVar[str] = "tp"
    action: str
    claim_id: int
    arg: int = 0


def staff_translator() -> Translator:
    return get_translator(get_settings().default_language)


def topic_name(t: Translator, *, number: str, status: str, customer: str) -> str:
    name = f"{number} · {t(f'status.{status}')} · {customer}"
    return name[:NAME_LIMIT]


def customer_label(customer: Customer) -> str:
    return customer.name or customer.phone or str(customer.id)


def button(text: str, action: str, claim_id: int, arg: int = 0) -> dict[str, str]:
    return {"text": text, "callback_data": TopicButton(action=action, claim_id=claim_id, arg=arg).pack()}


def card_markup(t: Translator, claim: Claim) -> dict[str, Any]:
    rows: list[list[dict[str, str]]] = [
        [button(t("topics.button.take"), TAKE, claim.id), button(t("topics.button.reason"), REASON, claim.id)],
        [
            button(t("topics.button.department"), DEPARTMENT, claim.id),
            button(t("topics.button.resolve"), RESOLVE, claim.id),
        ],
        [{"text": t("topics.button.open"), "url": f"{backoffice_url(get_settings())}/claims/{claim.id}"}],
    ]
    return {"inline_keyboard": rows}


def results_markup(t: Translator, claim_id: int) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [button(t(f"result.{result.value}"), RESULT, claim_id, i)] for i, result in enumerate(RESULTS)
        ]
    }


def confirm_markup(t: Translator, claim_id: int) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [button(t("topics.button.confirm"), CONFIRM, claim_id), button(t("topics.button.cancel"), CANCEL, claim_id)]
        ]
    }


async def card_text(session: AsyncSession, t: Translator, claim: Claim, customer: Customer) -> str:
    files = await session.scalar(
        select(func.count())
        .select_from(Attachment)
        .join(Interaction, Interaction.id == Attachment.interaction_id)
        .where(Interaction.claim_id == claim.id)
    )
    responsible = await session.get(StaffUser, claim.responsible_id) if claim.responsible_id else None
    remedy = t(f"remedy.{claim.remedy}") if claim.remedy else "—"
    if claim.remedy_text:
        remedy += f" ({esc(claim.remedy_text)})"
    return t(
        "topics.card",
        number=esc(claim.number),
        status=t(f"status.{claim.status}"),
        customer=esc(customer_label(customer)),
        description=esc(claim.description or claim.subject),
        remedy=remedy,
        order=esc(claim.order_ref or "—"),
        files=files or 0,
        responsible=esc(responsible.full_name or responsible.login) if responsible else t("topics.nobody"),
    )
