"""Finding customers for the back-office: list and search (name, phone, e-mail, username), and one
customer with their claims."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.errors import NotFound


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
            Customer.username.ilike(pattern),
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
