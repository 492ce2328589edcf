"""The customer's own view of their claims (the bot's "My claims"): pages of claims and of a
claim's conversation. Staff-only interactions (internal notes) are never shown."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.models import Claim
from shared.enums import Direction
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
