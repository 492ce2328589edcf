"""Messages the desk could not deliver, for staff: what they said, to whom, when and why, and
sending one again where that can work.

The delivery worker (bot/delivery) records a permanent failure as `status = 'failed'` with its
reason in words (`last_error`) and `failed_at`. Staff may send such a message again: a new outbox
row (the same text, files and claim, to the customer's current chat) queued in the caller's
transaction, audited, and the failed row pointing to it (`resent_as_id`), so it leaves the list and
keeps its history.

When resending makes sense (the rule is `may_resend`):
* the desk gave up after temporary trouble (network, Telegram's 5xx, repeated 429): always, the
  trouble may be over;
* the customer blocked the bot, deleted their account, or Telegram does not know the chat: only
  when the customer has written to the bot since the failure (writing restarts a blocked bot; until
  then the same refusal would come back);
* Telegram refused the message itself, a file is missing, or the message kind is unsupported:
  never, the same message would fail again; staff write a new reply instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import BigInteger, cast, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.actors import Actor
from shared.audit.service import log_claim_event, log_desk_event
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.enums import DeliveryState, Direction, InteractionChannel, OutboxStatus
from shared.errors import Conflict, NotFound
from shared.interactions.models import Interaction
from shared.notifications.texts import html_to_plain
from shared.outbox.models import OutboxMessage
from shared.outbox.service import enqueue

Reason = Literal[
    "blocked", "deactivated", "chat_not_found", "gave_up", "file_missing", "refused", "unsupported", "other"
]
# The reasons a customer's new message can cure: Telegram refused the chat, not the message.
CHAT_REASONS: frozenset[str] = frozenset({"blocked", "deactivated", "chat_not_found"})
LIST_LIMIT = 200


def reason_of(error: str | None) -> Reason:
    """The kind of failure behind the worker's words in `last_error` (bot/delivery/worker.py)."""
    text = (error or "").strip()
    lower = text.lower()
    if "account is deleted" in lower or "deactivated" in lower:
        return "deactivated"
    if lower.startswith("the customer blocked the bot") or "bot was blocked" in lower:
        return "blocked"
    if "chat not found" in lower:
        return "chat_not_found"
    if "did not take the message after" in lower or "kept refusing with 429" in lower:
        return "gave_up"
    if lower.startswith("the attached file is missing"):
        return "file_missing"
    if lower.startswith("cannot deliver: unsupported"):
        return "unsupported"
    if lower.startswith("telegram refused the message"):
        return "refused"
    return "other"


def may_resend(reason: Reason, *, wrote_since: bool) -> bool:
    if reason == "gave_up":
        return True
    if reason in CHAT_REASONS:
        return wrote_since
    return False


@dataclass(frozen=True, slots=True)
class UndeliveredMessage:
    id: int
    failed_at: datetime
    text: str
    kind: str | None  # what the desk was saying: staff_reply, decision, acknowledged, ...
    reason: Reason
    error: str  # the worker's own words (shown beside the reason for "refused" and "other")
    claim_id: int | None
    claim_number: str | None
    customer_id: int | None
    customer_name: str | None
    customer_username: str | None
    wrote_since: bool
    resendable: bool


@dataclass(frozen=True, slots=True)
class UndeliveredPage:
    items: Sequence[UndeliveredMessage]
    total: int


def _query():
    interaction = aliased(Interaction)
    claim_id = func.coalesce(interaction.claim_id, cast(OutboxMessage.payload["claim_id"].astext, BigInteger))
    customer = aliased(Customer)
    claim = aliased(Claim)
    # The customer of the message's interaction, else of its claim, else the one in that chat.
    in_chat = (
        select(Customer.id)
        .where(Customer.telegram_chat_id == OutboxMessage.chat_id)
        .order_by(Customer.id)
        .limit(1)
        .scalar_subquery()
    )
    customer_id = func.coalesce(interaction.customer_id, claim.customer_id, in_chat)
    failed_at = func.coalesce(OutboxMessage.failed_at, OutboxMessage.next_attempt_at)
    later = aliased(Interaction)
    wrote_since = exists().where(
        later.customer_id == customer.id,
        later.direction == Direction.INBOUND.value,
        later.channel == InteractionChannel.TELEGRAM.value,
        later.occurred_at > failed_at,
    )
    return (
        select(
            OutboxMessage,
            interaction.text,
            claim.id,
            claim.number,
            customer.id,
            customer.name,
            customer.username,
            wrote_since,
            failed_at,
        )
        .outerjoin(interaction, interaction.id == OutboxMessage.interaction_id)
        .outerjoin(claim, claim.id == claim_id)
        .outerjoin(customer, customer.id == customer_id)
        .where(OutboxMessage.status == OutboxStatus.FAILED.value, OutboxMessage.resent_as_id.is_(None))
    )


def _item(row: Any) -> UndeliveredMessage:
    message, text, claim_id, number, customer_id, name, username, wrote_since, failed_at = row
    reason = reason_of(message.last_error)
    if text is None:
        raw = str((message.payload or {}).get("text") or "")
        text = html_to_plain(raw) if (message.payload or {}).get("parse_mode") else raw
    return UndeliveredMessage(
        id=message.id,
        failed_at=failed_at,
        text=text,
        kind=(message.payload or {}).get("kind"),
        reason=reason,
        error=message.last_error or "",
        claim_id=claim_id,
        claim_number=number,
        customer_id=customer_id,
        customer_name=name,
        customer_username=username,
        wrote_since=bool(wrote_since),
        resendable=may_resend(reason, wrote_since=bool(wrote_since)),
    )


async def list_undelivered(session: AsyncSession, *, limit: int = LIST_LIMIT) -> UndeliveredPage:
    """The failed messages not sent again, the newest failure first (at most `limit`), and how many
    there are in all."""
    rows = (
        await session.execute(
            _query().order_by(OutboxMessage.failed_at.desc().nulls_last(), OutboxMessage.id.desc()).limit(limit)
        )
    ).all()
    total = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.FAILED.value, OutboxMessage.resent_as_id.is_(None))
    )
    return UndeliveredPage(items=[_item(r) for r in rows], total=total or 0)


async def get_undelivered(session: AsyncSession, *, message_id: int) -> UndeliveredMessage:
    row = (await session.execute(_query().where(OutboxMessage.id == message_id))).first()
    if row is None:
        raise NotFound("undelivered_message", message_id)
    return _item(row)


async def resend_message(session: AsyncSession, *, message_id: int, actor: Actor) -> OutboxMessage:
    """Queue a failed message again (see the module's rule); one audit event: `message_resent` on
    its claim, or on the desk when it concerns no claim."""
    # The row lock makes two staff pressing "resend" at once queue it once.
    locked = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.id == message_id).with_for_update())
    if locked is None:
        raise NotFound("undelivered_message", message_id)
    message = await session.get_one(OutboxMessage, message_id, populate_existing=True)
    if message.status != OutboxStatus.FAILED.value or message.resent_as_id is not None:
        raise Conflict("this message is no longer undelivered (sent again already)", field="resent")
    item = await get_undelivered(session, message_id=message_id)
    if not item.resendable:
        raise Conflict(f"sending it again would fail the same way ({item.reason})", field="resend", reason=item.reason)
    chat_id = message.chat_id
    if item.customer_id is not None:
        customer = await session.get_one(Customer, item.customer_id)
        chat_id = customer.telegram_chat_id or chat_id  # the chat they wrote from since
    again = await enqueue(
        session,
        chat_id=chat_id,
        method=message.method,
        payload=dict(message.payload or {}),  # parts already sent (`_progress`) are not sent twice
        interaction_id=message.interaction_id,
    )
    message.resent_as_id = again.id
    if message.interaction_id is not None:
        await session.execute(
            update(Interaction)
            .where(Interaction.id == message.interaction_id)
            .values(delivery_state=DeliveryState.QUEUED.value, delivery_error=None)
        )
    details = {"outbox_message_id": message.id, "resent_as_id": again.id, "reason": item.reason}
    if item.claim_id is not None:
        await log_claim_event(
            session,
            claim_id=item.claim_id,
            actor=actor,
            kind="message_resent",
            before={"delivery_state": DeliveryState.FAILED.value, "error": message.last_error},
            after={**details, "interaction_id": message.interaction_id},
        )
    else:
        await log_desk_event(session, actor=actor, kind="message_resent", details={**details, "chat_id": chat_id})
    await session.flush()
    return again
