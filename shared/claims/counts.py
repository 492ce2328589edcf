"""How many claims match the claims-list filters, per status: the queue's counts by status."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.filters import ClaimFilters, claim_conditions
from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus


async def count_by_status(session: AsyncSession, *, filters: ClaimFilters, tz: ZoneInfo) -> dict[str, int]:
    """Every status (0 when none) -> the number of claims matching `filters` but their status filter,
    in one grouped count (an index-only scan of ix_claim_status_registered for the usual filters)."""
    conditions = claim_conditions(replace(filters, status=()), tz)
    rows = await session.execute(select(Claim.status, func.count()).where(*conditions).group_by(Claim.status))
    counts = {status.value: 0 for status in ClaimStatus}
    counts.update({status: int(n) for status, n in rows.all()})
    return counts
