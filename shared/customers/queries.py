"""Finding customers for the back-office: list and search (name, phone, e-mail, username), and one
customer with their claims."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.enums import Direction
from shared.errors import NotFound
from shared.interactions.models import Interaction


@dataclass(frozen=True, slots=True)
class CustomerPage:
    items: Sequence[Customer]
    total: int
    next_cursor: int | None


def _like(q: str) -> str:
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_customers(
    session: AsyncSession, *, q: str | None = None, limit: int = 50, after_id: int | None = None
) -> CustomerPage:
    """Newest first, keyset-paginated by id."""
    conditions = []
    if q and q.strip():
        pattern = _like(q.strip())
        digits = "".join(ch for ch in q if ch.isdigit())
        matches = [
            Customer.name.ilike(pattern),
            Customer.email.ilike(pattern),
            Customer.username.ilike(_like(q.strip().lstrip("@"))),
        ]
        if len(digits) >= 3:
            matches.append(Customer.phone.like(_like(digits)))
        conditions.append(or_(*matches))
    query = select(Customer).where(*conditions)
    if after_id is not None:
        query = query.where(Customer.id < after_id)
    rows = list((await session.scalars(query.order_by(Customer.id.desc()).limit(limit + 1))).all())
    total = await session.scalar(select(func.count()).select_from(Customer).where(*conditions)) or 0
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = rows[-1].id
    return CustomerPage(items=rows, total=total, next_cursor=next_cursor)


async def customer_with_claims(session: AsyncSession, *, customer_id: int) -> tuple[Customer, Sequence[Claim]]:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("customer", customer_id)
    claims = (
        await session.scalars(
            select(Claim).where(Claim.customer_id == customer_id).order_by(Claim.registered_at.desc(), Claim.id.desc())
        )
    ).all()
    return customer, claims


async def customer_messages(session: AsyncSession, *, customer_id: int, limit: int = 200) -> Sequence[Interaction]:
    """What the customer sent, newest first: on their claims and outside any (kept by the bot when no
    claim was open or the customer had not said which one)."""
    rows = await session.scalars(
        select(Interaction)
        .where(Interaction.customer_id == customer_id, Interaction.direction == Direction.INBOUND.value)
        .options(selectinload(Interaction.attachments))
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(limit)
    )
    return rows.all()
