"""Logging interactions: what customers send, what staff answer, calls, meetings and notes."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import set_committed_value

from shared.actors import Actor
from shared.audit.service import log_claim_event
from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.enums import ActorKind, AttachmentKind, DeliveryState, Direction, InteractionChannel
from shared.errors import Conflict, InvalidValue, NotFound
from shared.i18n import get_translator
from shared.interactions.models import Attachment, Interaction
from shared.live import notify_live
from shared.notifications import staff_alerts
from shared.outbox.service import enqueue
from shared.text_limits import LONG_TEXT
from shared.topics.posts import mirror_interaction


def answers_the_customer(*, by_staff: bool, direction: Direction, channel: InteractionChannel) -> bool:
    """Whether an interaction is staff speaking to the customer: the claim's first response (the
    SLA clock) is the first of these that reached them. An internal note never is."""
    return by_staff and direction is not Direction.INTERNAL and channel is not InteractionChannel.NOTE


async def record_first_response(session: AsyncSession, *, claim_id: int, at: datetime) -> None:
    """The claim's first response is the earliest answer that reached the customer: set it when it
    is unset or later than `at`. One UPDATE (the delivery worker holds no claim object); the claim's
    version is left alone, so nobody's open edit goes stale for it."""
    await session.execute(
        update(Claim)
        .where(Claim.id == claim_id, or_(Claim.first_response_at.is_(None), Claim.first_response_at > at))
        .values(first_response_at=at)
        .execution_options(synchronize_session=False)
    )


async def response_delivered(session: AsyncSession, *, interaction_id: int, at: datetime) -> None:
    """The delivery worker got a message to the customer at `at`: when it was staff speaking (a
    reply, or the news of a status change they made: the interaction names them as its author),
    it may be the claim's first response. A message Telegram refused never comes here."""
    row = (
        await session.execute(
            select(Interaction.claim_id, Interaction.author_id, Interaction.direction, Interaction.channel).where(
                Interaction.id == interaction_id
            )
        )
    ).one_or_none()
    if row is None or row.claim_id is None:
        return
    staff_spoke = answers_the_customer(
        by_staff=row.author_id is not None,
        direction=Direction(row.direction),
        channel=InteractionChannel(row.channel),
    )
    if staff_spoke:
        await record_first_response(session, claim_id=row.claim_id, at=at)


# A Telegram message in one round trip, the row back as the entity (None: stored before, a
# redelivery). Built once: the bot stores every customer message with it, and building the
# statement cost more CPU than running it.
_INSERT_TELEGRAM_MESSAGE = (
    insert(Interaction)
    .on_conflict_do_nothing(constraint="uq_interaction_tg_message")
    .returning(Interaction)
    .options(lazyload(Interaction.attachments))  # filled in below; noload() is deprecated in 2.1
)


@dataclass(frozen=True, slots=True)
class AttachmentIn:
    kind: AttachmentKind
    tg_file_id: str | None = None
    tg_file_unique_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    storage_path: str | None = None


@dataclass(frozen=True, slots=True)
class TelegramRef:
    """Where a message sits in Telegram; (chat, message, edit_date) identifies it exactly once."""

    chat_id: int
    message_id: int
    edit_date: int = 0
    media_group_id: str | None = None


async def log_interaction(
    session: AsyncSession,
    *,
    actor: Actor,
    direction: Direction,
    channel: InteractionChannel,
    text: str = "",
    claim_id: int | None = None,
    customer_id: int | None = None,
    author_id: int | None = None,
    counterpart_name: str | None = None,
    counterpart_role: str | None = None,
    telegram: TelegramRef | None = None,
    edit_of_id: int | None = None,
    occurred_at: datetime | None = None,
    attachments: Sequence[AttachmentIn] = (),
    delivery_state: DeliveryState | None = None,
    audit: bool = True,
) -> tuple[Interaction, bool]:
    """Store one interaction; returns it and whether it is new.

    `audit=False`: no `interaction_added` event; the caller writes the one event of its own call.

    A Telegram message already stored (a redelivered update) is returned as it is, with False,
    and nothing else is written.
    """
    direction = Direction(direction)
    channel = InteractionChannel(channel)
    if len(text) > LONG_TEXT:
        raise InvalidValue(
            "text", f"longer than {LONG_TEXT} characters", key="api.problem.value.too_long", limit=LONG_TEXT
        )
    if not text.strip() and not attachments:
        raise InvalidValue("text", "must not be empty", key="api.problem.value.empty")
    claim: Claim | None = None
    if claim_id is not None:
        claim = await session.get(Claim, claim_id)
        if claim is None or (customer_id is not None and claim.customer_id != customer_id):
            raise NotFound("claim", claim_id)
        customer_id = claim.customer_id
    elif customer_id is not None and await session.get(Customer, customer_id) is None:
        raise NotFound("customer", customer_id)

    values = {
        "claim_id": claim_id,
        "customer_id": customer_id,
        "direction": Direction(direction).value,
        "channel": InteractionChannel(channel).value,
        "counterpart_name": counterpart_name,
        "counterpart_role": counterpart_role,
        "author_id": author_id,
        "text": text,
        "edit_of_id": edit_of_id,
        "occurred_at": occurred_at or utcnow(),
        "delivery_state": DeliveryState(delivery_state).value if delivery_state else None,
    }
    if telegram is not None:
        values |= {
            "tg_chat_id": telegram.chat_id,
            "tg_message_id": telegram.message_id,
            "tg_edit_date": telegram.edit_date,
            "tg_media_group_id": telegram.media_group_id,
        }
        inserted = await session.scalar(_INSERT_TELEGRAM_MESSAGE, values)
        if inserted is None:
            existing = await session.scalar(
                select(Interaction).where(
                    Interaction.tg_chat_id == telegram.chat_id,
                    Interaction.tg_message_id == telegram.message_id,
                    Interaction.tg_edit_date == telegram.edit_date,
                )
            )
            assert existing is not None
            return existing, False
        interaction = inserted
    else:
        interaction = Interaction(**values)
        session.add(interaction)
        await session.flush()

    for item in attachments:
        session.add(
            Attachment(
                interaction_id=interaction.id,
                kind=AttachmentKind(item.kind).value,
                tg_file_id=item.tg_file_id,
                tg_file_unique_id=item.tg_file_unique_id,
                file_name=item.file_name,
                mime_type=item.mime_type,
                size=item.size,
                storage_path=item.storage_path,
            )
        )
    if attachments:
        await session.flush()
        await session.refresh(interaction, ["attachments"])
    else:
        set_committed_value(interaction, "attachments", [])

    if claim is not None and delivery_state is None:
        # What staff said to the customer by phone, e-mail or in person reached them when it
        # happened: the first such answer stops the SLA clock. A message queued for Telegram
        # counts when the delivery worker gets it through (`response_delivered`), not now.
        at = values["occurred_at"]
        staff_spoke = answers_the_customer(by_staff=actor.is_staff, direction=direction, channel=channel)
        if staff_spoke and (claim.first_response_at is None or claim.first_response_at > at):
            # Not an edit of the claim: its version stays (see record_first_response).
            await record_first_response(session, claim_id=claim.id, at=at)
            set_committed_value(claim, "first_response_at", at)
    if claim is not None and audit:
        await log_claim_event(
            session,
            claim_id=claim.id,
            actor=actor,
            kind="interaction_added",
            after={
                "interaction_id": interaction.id,
                "direction": interaction.direction,
                "channel": interaction.channel,
                "attachments": len(attachments),
            },
            at=values["occurred_at"],
        )
    if claim is not None and direction is Direction.INBOUND and actor.kind is ActorKind.CUSTOMER and edit_of_id is None:
        await staff_alerts.on_customer_wrote(session, claim=claim, interaction=interaction)
    if customer_id is not None:
        await notify_live(session, kind="message", customer_id=customer_id, claim_id=claim_id)
    if claim is not None:
        await mirror_interaction(session, interaction=interaction)  # into the claim's staff topic, if any
    return interaction, True


async def reply_to_customer(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    text: str,
    author_id: int | None,
    attachments: Sequence[AttachmentIn] = (),
    telegram: TelegramRef | None = None,
) -> Interaction:
    """A staff answer sent through the bot: an outbound interaction queued for delivery, and the
    outbox message that delivers it, in the same transaction. `telegram`: the staff member wrote it
    in the claim's topic (that message, stored once: a redelivered update queues nothing again)."""
    claim = await session.get(Claim, claim_id)
    if claim is None:
        raise NotFound("claim", claim_id)
    if claim.status == ClaimStatus.CLOSED:
        raise Conflict("the claim is closed", field="status", key="api.problem.claim.closed")
    customer = await session.get_one(Customer, claim.customer_id)
    if customer.telegram_chat_id is None:
        raise InvalidValue(
            "channel",
            "the customer has no Telegram chat; record a call or an e-mail instead",
            key="api.problem.reply.no_telegram",
        )
    interaction, created = await log_interaction(
        session,
        actor=actor,
        direction=Direction.OUTBOUND,
        channel=InteractionChannel.TELEGRAM,
        text=text,
        claim_id=claim_id,
        author_id=author_id,
        attachments=attachments,
        delivery_state=DeliveryState.QUEUED,
        telegram=telegram,
    )
    if not created:
        return interaction  # that topic message was queued for the customer before
    await enqueue(
        session,
        chat_id=customer.telegram_chat_id,
        method="sendMessage",
        # The customer may have several claims: the answer names the one it is about.
        payload={
            "text": get_translator(customer.language)(
                "delivery.staff_reply",
                number=html.escape(claim.number, quote=False),
                text=html.escape(text, quote=False),
            ),
            "parse_mode": "HTML",
            "kind": "staff_reply",
            "claim_id": claim.id,
            "claim_number": claim.number,
        },
        interaction_id=interaction.id,
    )
    return interaction
