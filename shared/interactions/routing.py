"""Which claim an inbound customer message belongs to, and storing it there.

The rule (issue 3): the claim the customer chose with "Write about this claim"; else their only
open claim; with several open claims the customer is asked which one (the message is kept
meanwhile without a claim and moved when they answer); with none it is kept without a claim.
Nothing a customer sends is dropped, and a redelivered message is stored once
(`log_interaction` keys Telegram messages by chat, message id and edit date).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.service import log_claim_event
from shared.claims.models import Claim
from shared.claims.workflow import OPEN_STATUSES, ClaimStatus
from shared.enums import Direction, InteractionChannel
from shared.errors import Conflict, NotFound
from shared.interactions.models import Interaction
from shared.interactions.service import AttachmentIn, TelegramRef, log_interaction
from shared.notifications import staff_alerts
from shared.topics.posts import mirror_interaction


@dataclass(frozen=True, slots=True)
class Route:
    """Where an inbound message goes: `claim`, or a question among `choices`, or nowhere."""

    claim: Claim | None = None
    choices: Sequence[Claim] = field(default_factory=tuple)

    @property
    def ambiguous(self) -> bool:
        return self.claim is None and len(self.choices) > 1


# Built once: the bot runs it for nearly every message, and building the statement (the OR of
# the open statuses, the ordering) cost more CPU than running it. An OR of equalities rather than
# IN: an expanding IN is rendered again at every call.
_OPEN_CLAIMS = (
    select(Claim)
    .where(Claim.customer_id == bindparam("customer_id"), or_(*(Claim.status == s.value for s in OPEN_STATUSES)))
    .order_by(Claim.registered_at.desc(), Claim.id.desc())
    .limit(bindparam("limit"))
)


async def open_claims(session: AsyncSession, *, customer_id: int, limit: int = 10) -> Sequence[Claim]:
    rows = await session.scalars(_OPEN_CLAIMS, {"customer_id": customer_id, "limit": limit})
    return rows.all()


async def route_inbound(session: AsyncSession, *, customer_id: int, chosen_claim_id: int | None) -> Route:
    if chosen_claim_id is not None:
        chosen = await session.get(Claim, chosen_claim_id)
        # A choice stops counting once the claim is closed (or was never the customer's).
        if chosen is not None and chosen.customer_id == customer_id and chosen.status != ClaimStatus.CLOSED:
            return Route(claim=chosen)
    candidates = await open_claims(session, customer_id=customer_id)
    if len(candidates) == 1:
        return Route(claim=candidates[0])
    return Route(choices=candidates)


@dataclass(frozen=True, slots=True)
class Received:
    """A customer's message as `receive_inbound` left it: the stored row, whether it is new
    (False: the same Telegram message was stored before, a redelivery), and where it went."""

    interaction: Interaction
    created: bool
    route: Route


async def receive_inbound(
    session: AsyncSession,
    *,
    customer_id: int,
    chosen_claim_id: int | None,
    text: str,
    telegram: TelegramRef,
    attachments: Sequence[AttachmentIn] = (),
) -> Received:
    """Everything a customer sends that is not an answer to a question: routed by the rule above
    (`chosen_claim_id`: the claim chosen with "Write about this claim", if any) and stored, with
    its `interaction_added` event when it lands on a claim (`log_interaction`)."""
    route = await route_inbound(session, customer_id=customer_id, chosen_claim_id=chosen_claim_id)
    interaction, created = await log_interaction(
        session,
        actor=Actor.customer(customer_id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text=text,
        claim_id=route.claim.id if route.claim is not None else None,
        customer_id=customer_id,
        telegram=telegram,
        attachments=attachments,
    )
    return Received(interaction, created, route)


async def find_telegram_message(session: AsyncSession, *, chat_id: int, message_id: int) -> Interaction | None:
    """The stored original (not an edit) of a Telegram message."""
    return await session.scalar(
        select(Interaction).where(
            Interaction.tg_chat_id == chat_id,
            Interaction.tg_message_id == message_id,
            Interaction.tg_edit_date == 0,
        )
    )


async def record_edit(
    session: AsyncSession,
    *,
    customer_id: int,
    chosen_claim_id: int | None,
    text: str,
    telegram: TelegramRef,
    attachments: Sequence[AttachmentIn] = (),
) -> tuple[Interaction, bool]:
    """An edited message becomes its own row pointing at the original (`edit_of_id`), on the
    original's claim; the original text stays as it was sent. An edit of a message never stored
    (sent before the desk knew the customer) is routed as a new message would be."""
    original = await find_telegram_message(session, chat_id=telegram.chat_id, message_id=telegram.message_id)
    if original is not None and original.customer_id != customer_id:
        raise NotFound("interaction", original.id)
    if original is not None:
        claim_id = original.claim_id
    else:
        route = await route_inbound(session, customer_id=customer_id, chosen_claim_id=chosen_claim_id)
        claim_id = route.claim.id if route.claim is not None else None
    return await log_interaction(
        session,
        actor=Actor.customer(customer_id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text=text,
        claim_id=claim_id,
        customer_id=customer_id,
        telegram=telegram,
        attachments=attachments,
        edit_of_id=original.id if original is not None else None,
    )


async def attach_to_claim(
    session: AsyncSession, *, customer_id: int, claim_id: int, from_interaction_id: int
) -> tuple[Claim, list[int]]:
    """The customer answered "which claim?": their message `from_interaction_id` and every later
    message still without a claim move to `claim_id`; one audit event on that claim."""
    claim = await session.get(Claim, claim_id)
    if claim is None or claim.customer_id != customer_id:
        raise NotFound("claim", claim_id)
    if claim.status == ClaimStatus.CLOSED:
        raise Conflict("the claim is closed", field="status")
    first = await session.get(Interaction, from_interaction_id)
    if first is None or first.customer_id != customer_id or first.direction != Direction.INBOUND:
        raise NotFound("interaction", from_interaction_id)
    ids = list(
        (
            await session.scalars(
                update(Interaction)
                .where(
                    Interaction.customer_id == customer_id,
                    Interaction.claim_id.is_(None),
                    Interaction.direction == Direction.INBOUND.value,
                    Interaction.id >= from_interaction_id,
                )
                .values(claim_id=claim_id)
                .returning(Interaction.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    for moved in (await session.scalars(select(Interaction).where(Interaction.id.in_(ids)))).all():
        await mirror_interaction(session, interaction=moved)  # now on a claim: into its topic
    if ids:
        await log_claim_event(
            session,
            claim_id=claim.id,
            actor=Actor.customer(customer_id),
            kind="interaction_added",
            after={"interaction_ids": sorted(ids), "direction": Direction.INBOUND.value, "moved": True},
        )
        await staff_alerts.on_customer_wrote(session, claim=claim, interaction=first)
    return claim, sorted(ids)
