"""The messages the desk owes: each an outbound interaction (delivery_state queued) plus an outbox
row, in the caller's transaction, in the customer's language, typed text escaped for HTML.

These functions never refuse and never write audit events: they are part of the change that
calls them (a transition, a registration), whose service already wrote the one event.
Customers without a Telegram chat get nothing queued (staff record calls or e-mails instead).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.enums import ActorKind, DeliveryState, Direction, InteractionChannel
from shared.i18n import Translator, get_translator
from shared.interactions.models import Interaction
from shared.notifications.buttons import ACCEPT, DISPUTE, DecisionButton, SurveyButton
from shared.notifications.texts import claim_link, esc, formats, html_to_plain
from shared.outbox.models import OutboxMessage
from shared.outbox.service import enqueue
from shared.plans.models import PlanItem
from shared.settings import get_settings
from shared.staff.models import StaffUser
from shared.topics.posts import open_topic, post_in_topic, sync_topic

PARSE_MODE = "HTML"
LOW_RATING = 2  # ratings 1-2 are shown to staff at once
STAFF_NEWS_WINDOW = timedelta(days=1)


def decision_stamp(claim: Claim) -> int:
    """Which decision a button belongs to: a reopened and re-resolved claim has a new one."""
    return int(claim.resolved_at.timestamp()) if claim.resolved_at else 0


def _translator(customer: Customer) -> Translator:
    return get_translator(customer.language)


async def queue_customer_message(
    session: AsyncSession,
    *,
    claim: Claim,
    text: str,
    kind: str,
    reply_markup: dict[str, Any] | None = None,
    customer: Customer | None = None,
    author_id: int | None = None,
) -> Interaction | None:
    """An HTML message to the claim's customer; None when they have no Telegram chat."""
    customer = customer or await session.get(Customer, claim.customer_id)
    if customer is None or customer.telegram_chat_id is None:
        return None
    interaction = Interaction(
        claim_id=claim.id,
        customer_id=customer.id,
        direction=Direction.OUTBOUND.value,
        channel=InteractionChannel.TELEGRAM.value,
        author_id=author_id,
        text=html_to_plain(text),
        occurred_at=utcnow(),
        delivery_state=DeliveryState.QUEUED.value,
    )
    session.add(interaction)
    await session.flush()
    payload: dict[str, Any] = {
        "text": text,
        "parse_mode": PARSE_MODE,
        "kind": kind,
        "claim_id": claim.id,
        "claim_number": claim.number,
    }
    if reply_markup:
        payload["reply_markup"] = reply_markup
    await enqueue(
        session, chat_id=customer.telegram_chat_id, method="sendMessage", payload=payload, interaction_id=interaction.id
    )
    return interaction


async def queue_staff_message(
    session: AsyncSession, *, text: str, kind: str, claim_id: int | None = None
) -> OutboxMessage | None:
    """A post in the staff chat (STAFF_CHAT_ID); nothing when it is not configured. News of a
    claim with a topic goes into its topic."""
    chat_id = get_settings().staff_chat_id
    if chat_id is None:
        return None
    if claim_id is not None:
        in_topic = await post_in_topic(session, claim_id=claim_id, text=text, flat_too=True, kind=kind)
        if in_topic is not None:
            return in_topic
    payload: dict[str, Any] = {"text": text, "parse_mode": PARSE_MODE, "kind": kind}
    if claim_id is not None:
        payload["claim_id"] = claim_id
    return await enqueue(session, chat_id=chat_id, method="sendMessage", payload=payload)


def _staff_t() -> Translator:
    return get_translator(get_settings().default_language)


async def _responsible_name(session: AsyncSession, claim: Claim, t: Translator) -> str:
    if claim.responsible_id is None:
        return t("delivery.staff.nobody")
    staff = await session.get(StaffUser, claim.responsible_id)
    return esc(staff.full_name or staff.login) if staff else t("delivery.staff.nobody")


def _inline(rows: list[list[tuple[str, str]]]) -> dict[str, Any]:
    return {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row] for row in rows]}


def survey_markup(t: Translator, claim_id: int) -> dict[str, Any]:
    return _inline([[(str(score), SurveyButton(claim_id=claim_id, score=score).pack()) for score in range(1, 6)]])


# ---------------------------------------------------------------------- customer-facing flows
async def on_registered(session: AsyncSession, *, claim: Claim, actor: Actor) -> None:
    """Staff (or an import) registered a claim for a customer: acknowledge it to them; and tell
    the staff chat about every new claim."""
    settings = get_settings()
    customer = await session.get_one(Customer, claim.customer_id)
    if actor.kind is not ActorKind.CUSTOMER:
        # A claim the customer filed in the bot is acknowledged by the bot's own answer.
        t = _translator(customer)
        text = t(
            "delivery.acknowledged",
            number=esc(claim.number),
            subject=esc(claim.subject),
            due=formats(t).day_time(claim.registered_at + timedelta(hours=settings.sla_first_response_hours)),
        )
        await queue_customer_message(session, claim=claim, text=text, kind="acknowledged", customer=customer)
    if claim.registered_at < utcnow() - STAFF_NEWS_WINDOW:
        return  # a back-dated registration (demo data, a late entry) is not news for the staff chat
    st = _staff_t()
    news = st(
        "delivery.staff.new_claim",
        number=esc(claim.number),
        channel=st(f"channel.{claim.channel}"),
        customer=esc(customer.name or customer.phone or customer.id),
        subject=esc(claim.subject),
        link=claim_link(settings, claim.id),
    )
    if await open_topic(session, claim=claim, flat_text=news):
        return  # its topic's card is the news (shared/topics/posts.py)
    await queue_staff_message(session, text=news, kind="staff_new_claim", claim_id=claim.id)


async def on_transition(session: AsyncSession, *, claim: Claim, previous: ClaimStatus, actor: Actor) -> None:
    """Tell the customer about a status change. The news of a change staff made names them as its
    author: once it reaches the customer it may be the claim's first response."""
    status = ClaimStatus(claim.status)
    await sync_topic(session, claim_id=claim.id)  # the topic's name, icon and state follow the status
    customer = await session.get_one(Customer, claim.customer_id)
    if customer.telegram_chat_id is None:
        return
    t = _translator(customer)
    number = esc(claim.number)
    author_id = actor.id if actor.is_staff else None
    if previous is ClaimStatus.NEW and status is ClaimStatus.IN_PROGRESS:
        await queue_customer_message(
            session,
            claim=claim,
            customer=customer,
            kind="taken",
            text=t("delivery.taken", number=number),
            author_id=author_id,
        )
    elif status is ClaimStatus.RESOLVED:
        stamp = decision_stamp(claim)
        await queue_customer_message(
            session,
            claim=claim,
            customer=customer,
            kind="decision",
            text=decision_text(t, claim),
            author_id=author_id,
            reply_markup=_inline(
                [
                    [
                        (
                            t("delivery.button.accept"),
                            DecisionButton(action=ACCEPT, claim_id=claim.id, stamp=stamp).pack(),
                        ),
                        (
                            t("delivery.button.dispute"),
                            DecisionButton(action=DISPUTE, claim_id=claim.id, stamp=stamp).pack(),
                        ),
                    ]
                ]
            ),
        )
    elif status is ClaimStatus.CLOSED:
        if actor.kind is ActorKind.SYSTEM:
            head = t("delivery.closed_auto", number=number, days=get_settings().auto_close_days)
        else:
            head = t("delivery.closed", number=number)
        await queue_customer_message(
            session,
            claim=claim,
            customer=customer,
            kind="closed_survey",
            text=f"{head}\n\n{t('delivery.survey.question')}",
            author_id=author_id,
            reply_markup=survey_markup(t, claim.id),
        )
    elif previous is ClaimStatus.RESOLVED and status is ClaimStatus.IN_PROGRESS:
        key = "delivery.dispute_received" if actor.kind is ActorKind.CUSTOMER else "delivery.reopened"
        await queue_customer_message(
            session, claim=claim, customer=customer, kind="reopened", text=t(key, number=number), author_id=author_id
        )


def decision_text(t: Translator, claim: Claim) -> str:
    lines = [
        t("delivery.decision.title", number=esc(claim.number)),
        t("delivery.decision.result", result=t(f"bot.result.{claim.result}")),
        "",
        esc(claim.resolution or ""),
    ]
    if claim.amount_granted is not None:
        lines += ["", t("delivery.decision.amount", amount=esc(formats(t).money(claim.amount_granted, claim.currency)))]
    lines += ["", t("delivery.decision.question")]
    return "\n".join(lines)


async def on_plan_change(session: AsyncSession, *, item: PlanItem, changed: dict[str, Any]) -> None:
    """Called by the plan services with what changed: tell the customer when an activity becomes
    visible to them, or a visible one is completed."""
    if not item.visible_to_customer:
        return
    if changed.get("visible_to_customer") is True:
        await on_plan_item(session, claim_id=item.claim_id, title=item.title, change="added")
    if changed.get("done_at") is not None:
        await on_plan_item(session, claim_id=item.claim_id, title=item.title, change="done", details=item.outcome)


async def on_plan_item(
    session: AsyncSession, *, claim_id: int, title: str, change: str, details: str | None = None
) -> None:
    """A plan activity the customer may see: added (or made visible), or completed."""
    claim = await session.get_one(Claim, claim_id)
    customer = await session.get_one(Customer, claim.customer_id)
    if customer.telegram_chat_id is None:
        return
    t = _translator(customer)
    key = "delivery.plan.done" if change == "done" else "delivery.plan.added"
    text = t(key, number=esc(claim.number), title=esc(title))
    if details:
        text += "\n" + esc(details)
    await queue_customer_message(session, claim=claim, customer=customer, kind=f"plan_{change}", text=text)


async def sla_reminder(session: AsyncSession, *, claim: Claim) -> Interaction | None:
    settings = get_settings()
    customer = await session.get_one(Customer, claim.customer_id)
    t = _translator(customer)
    due = claim.registered_at + timedelta(hours=settings.sla_first_response_hours)
    return await queue_customer_message(
        session,
        claim=claim,
        customer=customer,
        kind="sla_reminder",
        text=t("delivery.sla_reminder", number=esc(claim.number), due=formats(t).day_time(due)),
    )


# ---------------------------------------------------------------------- staff chat
async def on_rated(session: AsyncSession, *, claim: Claim) -> None:
    if claim.satisfaction_score is None or claim.satisfaction_score > LOW_RATING:
        return
    await staff_low_rating(session, claim=claim)


async def staff_low_rating(session: AsyncSession, *, claim: Claim) -> None:
    st = _staff_t()
    comment = f"\n«{esc(claim.satisfaction_comment)}»" if claim.satisfaction_comment else ""
    await queue_staff_message(
        session,
        text=st(
            "delivery.staff.low_rating",
            number=esc(claim.number),
            score=claim.satisfaction_score,
            comment=comment,
            responsible=await _responsible_name(session, claim, st),
            link=claim_link(get_settings(), claim.id),
        ),
        kind="staff_low_rating",
        claim_id=claim.id,
    )


async def staff_dispute(session: AsyncSession, *, claim: Claim, reason: str) -> None:
    st = _staff_t()
    await queue_staff_message(
        session,
        text=st(
            "delivery.staff.dispute",
            number=esc(claim.number),
            responsible=await _responsible_name(session, claim, st),
            reason=esc(reason),
            link=claim_link(get_settings(), claim.id),
        ),
        kind="staff_dispute",
        claim_id=claim.id,
    )


async def staff_overdue(session: AsyncSession, *, claim: Claim) -> OutboxMessage | None:
    settings = get_settings()
    st = _staff_t()
    return await queue_staff_message(
        session,
        text=st(
            "delivery.staff.overdue",
            number=esc(claim.number),
            due=formats(st).day_time(claim.due_at),
            status=st(f"status.{claim.status}"),
            responsible=await _responsible_name(session, claim, st),
            link=claim_link(settings, claim.id),
        ),
        kind="staff_overdue",
        claim_id=claim.id,
    )
