"""Personal alerts: a private message from the bot to the staff member a claim concerns, when it is
assigned to them (by someone else), when its customer writes on it and when it becomes overdue.

Only a linked, ACTIVE staff user with that alert switched on (their profile page) gets one; it is
an outbox message to their private chat with the bot (in Telegram a user's private chat has the
user's id), written in the transaction of the change that causes it, in their language, with the
claim's number and a link to its card in the web UI. Like `flows`, these functions never refuse
and write no audit event: they are part of the change that calls them.

A customer writing several messages in a row is one alert: only a message with no other message
of the customer on that claim in the `CUSTOMER_WROTE_QUIET` before it alerts (read through the
interactions' (claim, time) index, nothing stored for it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.enums import ActorKind, Direction
from shared.i18n import Translator, get_translator
from shared.interactions.models import Interaction
from shared.notifications.texts import claim_link, esc, formats
from shared.outbox.models import OutboxMessage
from shared.outbox.service import enqueue
from shared.settings import get_settings
from shared.staff.models import StaffUser

CUSTOMER_WROTE_QUIET = timedelta(minutes=10)
EXCERPT = 300  # characters of the customer's message quoted in the alert
PARSE_MODE = "HTML"


async def _recipient(session: AsyncSession, staff_user_id: int | None, switch: str) -> StaffUser | None:
    """The staff user to alert: linked, active, with this alert on; else None."""
    if staff_user_id is None:
        return None
    user = await session.get(StaffUser, staff_user_id)
    if user is None or not user.active or user.telegram_user_id is None or not getattr(user, switch):
        return None
    return user


async def _send(session: AsyncSession, user: StaffUser, *, claim: Claim, kind: str, text: str) -> OutboxMessage:
    assert user.telegram_user_id is not None
    # No claim_id in the payload: the undelivered-messages page would show a failed alert as the
    # claim's customer's message. The staff user and the number say whose it was.
    payload: dict[str, Any] = {
        "text": text,
        "parse_mode": PARSE_MODE,
        "kind": kind,
        "claim_number": claim.number,
        "staff_user_id": user.id,
    }
    return await enqueue(session, chat_id=user.telegram_user_id, method="sendMessage", payload=payload)


async def _who(session: AsyncSession, actor: Actor, t: Translator) -> str:
    if actor.kind is ActorKind.STAFF and actor.id is not None:
        staff = await session.get(StaffUser, actor.id)
        if staff is not None:
            return esc(staff.full_name or staff.login)
    return t("staff.alert.by_desk")


async def on_assigned(session: AsyncSession, *, claim: Claim, actor: Actor) -> OutboxMessage | None:
    """`claim` has just been given its responsible (`claim.responsible_id`) by `actor`: tell them,
    unless they took it themselves."""
    if actor.is_staff and actor.id == claim.responsible_id:
        return None
    user = await _recipient(session, claim.responsible_id, "alert_assigned")
    if user is None:
        return None
    t = get_translator(user.language)
    text = t(
        "staff.alert.assigned",
        number=esc(claim.number),
        subject=esc(claim.subject),
        by=await _who(session, actor, t),
        link=claim_link(get_settings(), claim.id),
    )
    return await _send(session, user, claim=claim, kind="staff_alert_assigned", text=text)


async def on_customer_wrote(session: AsyncSession, *, claim: Claim, interaction: Interaction) -> OutboxMessage | None:
    """The customer's message `interaction` has just been stored on `claim`: tell the claim's
    responsible, once per burst of messages."""
    user = await _recipient(session, claim.responsible_id, "alert_customer_wrote")
    if user is None:
        return None
    at = interaction.occurred_at
    burst = await session.scalar(
        select(
            exists().where(
                Interaction.claim_id == claim.id,
                Interaction.occurred_at > at - CUSTOMER_WROTE_QUIET,
                Interaction.occurred_at <= at,
                Interaction.direction == Direction.INBOUND.value,
                Interaction.id != interaction.id,
            )
        )
    )
    if burst:
        return None
    t = get_translator(user.language)
    customer = await session.get(Customer, claim.customer_id)
    said = interaction.text.strip()
    if len(said) > EXCERPT:
        said = said[:EXCERPT].rstrip() + "…"
    text = t(
        "staff.alert.customer_wrote",
        number=esc(claim.number),
        customer=esc(customer.name if customer is not None and customer.name else "—"),
        text=esc(said) if said else t("staff.alert.files_only"),
        link=claim_link(get_settings(), claim.id),
    )
    return await _send(session, user, claim=claim, kind="staff_alert_customer_wrote", text=text)


async def on_overdue(session: AsyncSession, *, claim: Claim) -> OutboxMessage | None:
    """`claim` has just been found past its due time (the sweeper, once per claim per due time)."""
    user = await _recipient(session, claim.responsible_id, "alert_overdue")
    if user is None:
        return None
    t = get_translator(user.language)
    text = t(
        "staff.alert.overdue",
        number=esc(claim.number),
        subject=esc(claim.subject),
        due=formats(t).day_time(claim.due_at) or "—",
        status=t(f"status.{claim.status}"),
        link=claim_link(get_settings(), claim.id),
    )
    return await _send(session, user, claim=claim, kind="staff_alert_overdue", text=text)
