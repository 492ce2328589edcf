"""Finding claims by their number (the header's search box): `2026-000042`, `000042` or `42`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.models import Claim
from shared.customers.models import Customer


async def claims_by_number(session: AsyncSession, *, q: str, limit: int = 20) -> Sequence[tuple[Claim, Customer]]:
    """Claims whose number is `q` or ends with it (the counter part, with or without its zeros)."""
    text = q.strip()
    if not text or len(text) > 32 or not all(ch.isdigit() or ch == "-" for ch in text):
        return []
    digits = text.split("-")[-1].lstrip("0")
    query = select(Claim, Customer).join(Customer, Customer.id == Claim.customer_id)
    if "-" in text:
        query = query.where(Claim.number == text)
    elif digits:
        # Numbers are YEAR-NNNNNN: the suffix matches "42" and "000042" alike.
        query = query.where(Claim.number.like("%-" + digits.rjust(6, "0")))
    else:
        return []
    rows = await session.execute(query.order_by(Claim.registered_at.desc()).limit(limit))
    return [(claim, customer) for claim, customer in rows.all()]
