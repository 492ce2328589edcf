"""Satisfaction of claims: of the claims whose decision (`resolved_at`) falls in the range and that
carry a result, how many were satisfied, partially satisfied or rejected, per reason."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.filters import ClaimFilters
from shared.claims.models import Claim
from shared.claims.workflow import ClaimResult
from shared.reports.common import (
    RangeParams,
    ReportBody,
    filter_conditions,
    group_names,
    pct,
    prepare_report,
    range_conditions,
)


class SatisfactionParams(RangeParams):
    pass


class SatisfactionCounts(BaseModel):
    resolved: int = 0
    satisfied: int = 0
    partially_satisfied: int = 0
    rejected: int = 0
    satisfied_pct: float = 0.0
    partially_satisfied_pct: float = 0.0
    rejected_pct: float = 0.0

    def with_shares(self) -> SatisfactionCounts:
        self.satisfied_pct = pct(self.satisfied, self.resolved)
        self.partially_satisfied_pct = pct(self.partially_satisfied, self.resolved)
        self.rejected_pct = pct(self.rejected, self.resolved)
        return self


class SatisfactionRow(SatisfactionCounts):
    reason: str | None


class SatisfactionReport(ReportBody):
    rows: list[SatisfactionRow]
    total: SatisfactionCounts


def satisfaction_query(params: SatisfactionParams, filters: ClaimFilters | None, tz: ZoneInfo):
    return (
        select(
            Claim.reason_id,
            func.count().label("resolved"),
            func.count().filter(Claim.result == ClaimResult.SATISFIED.value),
            func.count().filter(Claim.result == ClaimResult.PARTIALLY_SATISFIED.value),
            func.count().filter(Claim.result == ClaimResult.REJECTED.value),
        )
        .where(
            and_(
                Claim.result.is_not(None),
                *range_conditions(Claim.resolved_at, params.date_from, params.date_to, tz),
                *filter_conditions(filters, tz),
            )
        )
        .group_by(Claim.reason_id)
    )


async def satisfaction_report(
    session: AsyncSession, *, params: SatisfactionParams, tz: ZoneInfo, filters: ClaimFilters | None = None
) -> SatisfactionReport:
    await prepare_report(session, sorts=False)
    result = (await session.execute(satisfaction_query(params, filters, tz))).all()
    names = await group_names(session, "reason", {r[0] for r in result if r[0] is not None})
    rows: list[SatisfactionRow] = []
    total = SatisfactionCounts()
    for reason_id, resolved, satisfied, partial, rejected in result:
        rows.append(
            SatisfactionRow(
                reason=names.get(reason_id) if reason_id is not None else None,
                resolved=resolved,
                satisfied=satisfied,
                partially_satisfied=partial,
                rejected=rejected,
            ).with_shares()
        )
        total.resolved += resolved
        total.satisfied += satisfied
        total.partially_satisfied += partial
        total.rejected += rejected
    rows.sort(key=lambda r: (-r.resolved, r.reason is None, r.reason or ""))
    return SatisfactionReport(date_from=params.date_from, date_to=params.date_to, rows=rows, total=total.with_shares())
