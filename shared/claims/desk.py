"""What staff do at the desk, as one service call each: register a claim received by phone, e-mail
or in person (finding or creating its customer), edit a claim under the reassignment rule, record
an interaction (a Telegram reply goes through the outbox), and file a customer's message that came
outside any claim: as a new claim, or on one of their open claims."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.service import log_claim_event
from shared.claims.models import Claim
from shared.claims.service import NewClaim, get_claim, register_claim, update_claim
from shared.claims.workflow import ClaimStatus
from shared.customers.service import find_or_create_customer
from shared.enums import Channel, Direction, InteractionChannel, Role
from shared.errors import Conflict, InvalidValue, NotAllowed, NotFound
from shared.interactions.models import Interaction
from shared.interactions.service import log_interaction, reply_to_customer
from shared.live import notify_live
from shared.staff.models import StaffUser

STAFF_CHANNELS = (Channel.PHONE, Channel.EMAIL, Channel.WEB)


async def register_received_claim(
    session: AsyncSession,
    *,
    actor: Actor,
    claim_in: NewClaim,
    customer_id: int | None = None,
    customer_name: str | None = None,
    customer_phone: str | None = None,
    customer_email: str | None = None,
) -> Claim:
    """A claim staff took by phone, e-mail or in person: the customer is the given one, or found by
    phone, or created from the name and contact. The reassignment rule of `edit_claim` holds here
    too: someone below manager may leave the claim unassigned or name themselves, nobody else."""
    if Channel(claim_in.channel) not in STAFF_CHANNELS:
        raise InvalidValue("channel", f"must be one of {', '.join(STAFF_CHANNELS)}")
    target = claim_in.responsible_id
    if target is not None and actor.is_staff and target != actor.id:
        staff = await session.get(StaffUser, actor.id)
        if staff is None or not Role(staff.role).at_least(Role.MANAGER):
            raise NotAllowed(
                "only a manager assigns a claim to someone else; you may take it yourself", field="responsible_id"
            )
    if customer_id is None:
        if not customer_phone and not customer_email:
            raise InvalidValue("customer_phone", "give the customer's phone or e-mail (or customer_id)")
        customer, _ = await find_or_create_customer(
            session, name=customer_name or "", phone=customer_phone, email=customer_email
        )
        customer_id = customer.id
    return await register_claim(session, claim_in=replace(claim_in, customer_id=customer_id), actor=actor)


async def edit_claim(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    changes: Mapping[str, Any],
    expected_version: int,
    may_reassign: bool,
    due_reason: str | None = None,
) -> Claim:
    """`update_claim`, where someone who may not reassign can only take an unassigned claim;
    `due_reason` says why the due date moves (a manager's change, kept in the audit trail)."""
    if not may_reassign and "responsible_id" in changes:
        claim = await get_claim(session, claim_id=claim_id)
        target = changes["responsible_id"]
        if target != claim.responsible_id and not (claim.responsible_id is None and target == actor.id):
            raise NotAllowed("only a manager reassigns a claim; you may take an unassigned one", field="responsible_id")
    return await update_claim(
        session,
        claim_id=claim_id,
        actor=actor,
        changes=changes,
        expected_version=expected_version,
        due_reason=due_reason,
    )


async def add_staff_interaction(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    channel: InteractionChannel,
    text: str,
    direction: Direction | None = None,
    counterpart_name: str | None = None,
    counterpart_role: str | None = None,
    occurred_at: datetime | None = None,
) -> Interaction:
    """A Telegram reply is queued for delivery; a call, e-mail, meeting or note is recorded."""
    channel = InteractionChannel(channel)
    if channel is InteractionChannel.TELEGRAM:
        if direction not in (None, Direction.OUTBOUND):
            raise InvalidValue("direction", "a Telegram reply is outbound")
        return await reply_to_customer(session, claim_id=claim_id, actor=actor, text=text, author_id=actor.id)
    if channel is InteractionChannel.NOTE:
        if direction not in (None, Direction.INTERNAL):
            raise InvalidValue("direction", "a note is internal")
        direction = Direction.INTERNAL
    elif direction is None:
        direction = Direction.OUTBOUND
    elif direction is Direction.INTERNAL:
        raise InvalidValue("direction", "only a note is internal")
    interaction, _ = await log_interaction(
        session,
        actor=actor,
        direction=direction,
        channel=channel,
        text=text,
        claim_id=claim_id,
        author_id=actor.id,
        counterpart_name=counterpart_name,
        counterpart_role=counterpart_role,
        occurred_at=occurred_at,
    )
    return interaction


async def _loose_message(session: AsyncSession, interaction_id: int) -> Interaction:
    message = await session.get(Interaction, interaction_id, with_for_update=True)
    if message is None or message.direction != Direction.INBOUND.value or message.customer_id is None:
        raise NotFound("interaction", interaction_id)
    if message.claim_id is not None:
        raise Conflict("this message is already on a claim", field="claim_id")
    return message


async def register_claim_from_message(session: AsyncSession, *, interaction_id: int, actor: Actor) -> Claim:
    """A customer's message kept outside any claim becomes a new claim: its text is the description,
    and the message (with its files) is the claim's first interaction."""
    message = await _loose_message(session, interaction_id)
    files = len(message.attachments)
    description = message.text.strip() or "—"
    channel = Channel.TELEGRAM if message.channel == InteractionChannel.TELEGRAM.value else Channel.WEB
    claim = await register_claim(
        session,
        claim_in=NewClaim(customer_id=message.customer_id, description=description, channel=channel),
        actor=actor,
    )
    message.claim_id = claim.id
    await session.flush()
    await log_claim_event(
        session,
        claim_id=claim.id,
        actor=actor,
        kind="interaction_added",
        after={"interaction_id": message.id, "direction": message.direction, "attachments": files, "moved": True},
    )
    return claim


async def attach_message_to_claim(session: AsyncSession, *, interaction_id: int, claim_id: int, actor: Actor) -> Claim:
    """A customer's message kept outside any claim goes onto one of their claims that is not closed."""
    message = await _loose_message(session, interaction_id)
    claim = await get_claim(session, claim_id=claim_id)
    if claim.customer_id != message.customer_id:
        raise NotFound("claim", claim_id)
    if claim.status == ClaimStatus.CLOSED:
        raise Conflict("the claim is closed", field="status")
    message.claim_id = claim.id
    await session.flush()
    await log_claim_event(
        session,
        claim_id=claim.id,
        actor=actor,
        kind="interaction_added",
        after={
            "interaction_id": message.id,
            "direction": message.direction,
            "attachments": len(message.attachments),
            "moved": True,
        },
    )
    await notify_live(session, kind="message", customer_id=claim.customer_id, claim_id=claim.id)
    return claim
