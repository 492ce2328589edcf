"""A claim filed by a customer through the bot's wizard: the claim, the customer's phone, and the
customer's own words with their files as the first inbound interaction, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.service import NewClaim, register_claim
from shared.customers.models import Customer
from shared.customers.service import normalize_phone
from shared.enums import Channel, Direction, InteractionChannel, Remedy
from shared.errors import InvalidValue
from shared.interactions.service import AttachmentIn, TelegramRef, log_interaction
from shared.text_limits import LONG_TEXT

MAX_DESCRIPTION = LONG_TEXT


@dataclass(frozen=True, slots=True)
class IntakeDraft:
    description: str
    remedy: Remedy | None = None
    remedy_text: str | None = None  # what "other" means, in the customer's words
    order_ref: str | None = None
    amount_claimed: Decimal | None = None  # how much the customer asks (refund, compensation)
    phone: str | None = None
    attachments: Sequence[AttachmentIn] = field(default_factory=tuple)
    # The customer's message that carried the description, so staff can find it in the chat.
    telegram: TelegramRef | None = None


async def submit_intake(session: AsyncSession, *, customer_id: int, draft: IntakeDraft) -> Claim:
    if not draft.description.strip():
        raise InvalidValue("description", "must not be empty")
    if len(draft.description) > MAX_DESCRIPTION:
        raise InvalidValue("description", f"longer than {MAX_DESCRIPTION} characters")
    phone = normalize_phone(draft.phone) if draft.phone else None
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise InvalidValue("customer_id", f"no customer with id {customer_id}")
    actor = Actor.customer(customer_id)
    claim = await register_claim(
        session,
        claim_in=NewClaim(
            customer_id=customer_id,
            description=draft.description,
            channel=Channel.TELEGRAM,
            remedy=draft.remedy,
            remedy_text=draft.remedy_text,
            order_ref=draft.order_ref,
            amount_claimed=draft.amount_claimed,
        ),
        actor=actor,
    )
    if phone and customer.phone != phone:
        customer.phone = phone
    await log_interaction(
        session,
        actor=actor,
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text=draft.description,
        claim_id=claim.id,
        customer_id=customer_id,
        telegram=draft.telegram,
        attachments=draft.attachments,
    )
    return claim
