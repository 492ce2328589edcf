"""The customer's answers to what the desk sent: accept or dispute a decision, rate a closed claim.

Every call names the customer it acts for; a claim of anyone else is "not found" (callback data
is untrusted), and a decision button pressed after the claim moved on is refused as a Conflict.
Everything is checked before anything changes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.service import log_claim_event
from shared.claims.models import Claim
from shared.claims.service import (
    add_satisfaction_comment,
    get_claim,
    get_customer_claim,
    record_satisfaction,
    transition,
)
from shared.claims.workflow import ClaimStatus
from shared.enums import Direction, InteractionChannel
from shared.errors import Conflict, InvalidValue
from shared.interactions.models import Interaction
from shared.interactions.routing import receive_inbound
from shared.interactions.service import AttachmentIn, TelegramRef, log_interaction
from shared.notifications.flows import decision_stamp, staff_dispute
from shared.text_limits import LONG_TEXT

MAX_REASON = LONG_TEXT


async def _current_decision(session: AsyncSession, *, claim_id: int, customer_id: int, stamp: int) -> Claim:
    await get_customer_claim(session, claim_id=claim_id, customer_id=customer_id)
    claim = await get_claim(session, claim_id=claim_id, for_update=True)
    if claim.status != ClaimStatus.RESOLVED or decision_stamp(claim) != stamp:
        raise Conflict("this decision is no longer current", field="decision")
    return claim


async def accept_decision(session: AsyncSession, *, claim_id: int, customer_id: int, stamp: int) -> Claim:
    """Accept closes the claim (the closing message with the survey is queued by `transition`)."""
    await _current_decision(session, claim_id=claim_id, customer_id=customer_id, stamp=stamp)
    return await transition(session, claim_id=claim_id, to=ClaimStatus.CLOSED, actor=Actor.customer(customer_id))


async def check_dispute(session: AsyncSession, *, claim_id: int, customer_id: int, stamp: int) -> Claim:
    """Before asking for the reason: the decision is the customer's and still stands."""
    return await _current_decision(session, claim_id=claim_id, customer_id=customer_id, stamp=stamp)


async def dispute_decision(
    session: AsyncSession,
    *,
    claim_id: int,
    customer_id: int,
    stamp: int,
    reason: str,
    telegram: TelegramRef | None = None,
    attachments: Sequence[AttachmentIn] = (),
) -> Claim:
    """Reopen the claim (resolved -> in_progress), keep the reason (and any file sent with it) as
    an inbound interaction, and tell the staff chat (naming the responsible).

    One user action, one audit event: `disputed`, with the status before and after, the decision
    that no longer stands, the reason and the interaction; the inner calls write none of their own.
    `reopened: true` in `after` says the dispute is also a reopening (there is no separate
    `reopened` event for it).
    """
    text = (reason or "").strip()
    if not text:
        raise InvalidValue("reason", "must not be empty")
    if len(text) > MAX_REASON:
        raise InvalidValue("reason", f"longer than {MAX_REASON} characters")
    claim = await _current_decision(session, claim_id=claim_id, customer_id=customer_id, stamp=stamp)
    actor = Actor.customer(customer_id)
    previous = {"status": claim.status, "result": claim.result, "resolution": claim.resolution}
    await transition(session, claim_id=claim_id, to=ClaimStatus.IN_PROGRESS, actor=actor, audit=False)
    interaction, _ = await log_interaction(
        session,
        actor=actor,
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text=text,
        claim_id=claim_id,
        customer_id=customer_id,
        telegram=telegram,
        attachments=attachments,
        audit=False,
    )
    await log_claim_event(
        session,
        claim_id=claim_id,
        actor=actor,
        kind="disputed",
        before=previous,
        after={
            "status": claim.status,
            "result": claim.result,
            "reopened": True,
            "reason": text,
            "interaction_id": interaction.id,
            "attachments": len(attachments),
        },
    )
    await staff_dispute(session, claim=claim, reason=text)
    return claim


async def rate_claim(session: AsyncSession, *, claim_id: int, customer_id: int, score: int) -> Claim:
    await get_customer_claim(session, claim_id=claim_id, customer_id=customer_id)
    return await record_satisfaction(session, claim_id=claim_id, actor=Actor.customer(customer_id), score=score)


async def comment_rating(session: AsyncSession, *, claim_id: int, customer_id: int, comment: str) -> Claim:
    await get_customer_claim(session, claim_id=claim_id, customer_id=customer_id)
    return await add_satisfaction_comment(
        session, claim_id=claim_id, actor=Actor.customer(customer_id), comment=comment
    )


async def keep_message(
    session: AsyncSession,
    *,
    customer_id: int,
    text: str,
    telegram: TelegramRef,
    attachments: Sequence[AttachmentIn] = (),
    about_claim_id: int | None = None,
) -> Interaction:
    """A customer message an answer could not take (a reason for a decision that moved on, a
    comment on a survey already commented, a photo without words): stored as the catch-all stores
    every message, never dropped. It goes to `about_claim_id` while that claim is the customer's
    and open, else where the catch-all's routing puts it (their only open claim, or no claim)."""
    received = await receive_inbound(
        session,
        customer_id=customer_id,
        chosen_claim_id=about_claim_id,
        text=text,
        telegram=telegram,
        attachments=attachments,
    )
    return received.interaction
