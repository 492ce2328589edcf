"""The customer's own view of their claims (the bot's "My claims"): pages of claims and of a
claim's conversation. Staff-only interactions (internal notes) are never shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.models import ClaimEvent
from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus
from shared.enums import ActorKind, Direction
from shared.interactions.models import Interaction


async def list_customer_claims(
    session: AsyncSession, *, customer_id: int, limit: int, offset: int
) -> tuple[Sequence[Claim], int]:
    total = await session.scalar(select(func.count()).select_from(Claim).where(Claim.customer_id == customer_id))
    rows = await session.scalars(
        select(Claim)
        .where(Claim.customer_id == customer_id)
        .order_by(Claim.registered_at.desc(), Claim.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), int(total or 0)


def _visible(claim_id: int) -> ColumnElement[bool]:
    return (Interaction.claim_id == claim_id) & (Interaction.direction != Direction.INTERNAL.value)


async def customer_conversation(
    session: AsyncSession, *, claim_id: int, limit: int, offset: int
) -> tuple[Sequence[Interaction], int]:
    """What the customer and the desk said on a claim, oldest first; internal notes left out."""
    total = await session.scalar(select(func.count()).select_from(Interaction).where(_visible(claim_id)))
    rows = await session.scalars(
        select(Interaction)
        .where(_visible(claim_id))
        .order_by(Interaction.occurred_at, Interaction.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all(), int(total or 0)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of a claim's history as its customer reads it."""

    at: datetime
    kind: str  # registered | taken | decision | reopened | closed | answer
    result: str | None = None  # a decision's result
    text: str | None = None  # a staff answer's words


# A staff member's outbound contact (a reply in the bot, a call, an e-mail) is an answer; the desk's
# automatic messages and the news of a status change write no `interaction_added` event.
_HISTORY_EVENTS = ("registered", "status_changed", "reopened", "interaction_added")


async def customer_history(
    session: AsyncSession, *, claim_id: int, limit: int, offset: int
) -> tuple[list[HistoryEntry], int]:
    """What happened to a claim, oldest first: registered, taken into work, the decision, reopened,
    closed, and each answer from staff with its date. Internal notes and staff-only changes
    (assignments, plans, catalogs) are left out. A claim has tens of events at most: they are read
    whole and paged here."""
    events = (
        await session.scalars(
            select(ClaimEvent)
            .where(ClaimEvent.claim_id == claim_id, ClaimEvent.kind.in_(_HISTORY_EVENTS))
            .order_by(ClaimEvent.at, ClaimEvent.id)
        )
    ).all()
    answer_ids = [
        int(e.after["interaction_id"])
        for e in events
        if e.kind == "interaction_added"
        and e.actor_kind == ActorKind.STAFF.value
        and e.after
        and e.after.get("direction") == Direction.OUTBOUND.value
    ]
    answers = {
        i.id: i
        for i in await session.scalars(
            select(Interaction).where(Interaction.id.in_(answer_ids), Interaction.claim_id == claim_id)
        )
    }
    entries: list[HistoryEntry] = []
    for event in events:
        after = event.after or {}
        if event.kind == "registered":
            entries.append(HistoryEntry(event.at, "registered"))
        elif event.kind == "reopened":
            entries.append(HistoryEntry(event.at, "reopened"))
        elif event.kind == "status_changed":
            status = after.get("status")
            if status == ClaimStatus.IN_PROGRESS.value:
                entries.append(HistoryEntry(event.at, "taken"))
            elif status == ClaimStatus.RESOLVED.value:
                entries.append(HistoryEntry(event.at, "decision", result=after.get("result")))
            elif status == ClaimStatus.CLOSED.value:
                entries.append(HistoryEntry(event.at, "closed"))
        elif event.kind == "interaction_added" and after.get("interaction_id") in answers:
            answer = answers[after["interaction_id"]]
            entries.append(HistoryEntry(answer.occurred_at, "answer", text=answer.text))
    return entries[offset : offset + limit], len(entries)
