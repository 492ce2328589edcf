"""Ratings of claims registered in the range, per culprit department or reason: the customers'
average score and its 1-5 distribution, and from the audit trail the share of decisions disputed
and the share reopened.

A claim counts as *decided* when it carries a result now or was ever reopened (reopening clears the
result, but a decision was made). Both shares are of the decided claims, as a new claim can be
neither disputed nor reopened.

*Disputed*: the claim has a `disputed` event (the customer's dispute writes that one event), or a
`reopened` event whose actor is the customer (how a dispute shows in trails written before
`disputed` existed); a claim is counted once however many it has.
*Reopened*: a `reopened` event by anyone, or a `disputed` event (a dispute reopens the claim and
is written as that one event).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit.models import ClaimEvent
from shared.claims.filters import ClaimFilters
from shared.claims.models import Claim
from shared.enums import ActorKind
from shared.reports.common import (
    GROUPS,
    RangeParams,
    ReportBody,
    filter_conditions,
    pct,
    prepare_report,
    range_conditions,
    rollup_rows,
)

By = Literal["department", "reason"]
DISPUTED_KIND = "disputed"
REOPENED_KIND = "reopened"


class RatingsParams(RangeParams):
    by: By = "department"


class Ratings(BaseModel):
    claims: int = 0
    rated: int = 0
    average: float | None = None
    score_1: int = 0
    score_2: int = 0
    score_3: int = 0
    score_4: int = 0
    score_5: int = 0
    decided: int = 0
    disputed: int = 0
    disputed_pct: float = 0.0
    reopened: int = 0
    reopened_pct: float = 0.0


class RatingsDepartmentRow(Ratings):
    department: str | None


class RatingsReasonRow(Ratings):
    reason: str | None


class RatingsReport(ReportBody):
    by: By
    rows: list[RatingsDepartmentRow | RatingsReasonRow]
    total: Ratings


def ratings_query(params: RatingsParams, filters: ClaimFilters | None, tz: ZoneInfo):
    disputed_event = or_(
        ClaimEvent.kind == DISPUTED_KIND,
        and_(ClaimEvent.kind == REOPENED_KIND, ClaimEvent.actor_kind == ActorKind.CUSTOMER.value),
    )
    events = (
        select(
            ClaimEvent.claim_id,
            func.bool_or(ClaimEvent.kind.in_([REOPENED_KIND, DISPUTED_KIND])).label("reopened"),
            func.bool_or(disputed_event).label("disputed"),
        )
        .where(ClaimEvent.kind.in_([DISPUTED_KIND, REOPENED_KIND]))
        .group_by(ClaimEvent.claim_id)
        .subquery("trail")
    )
    gid = GROUPS[params.by][0]
    score = Claim.satisfaction_score
    decided = or_(Claim.result.is_not(None), events.c.reopened.is_(True))
    return (
        select(
            gid.label("gid"),
            func.grouping(gid).label("g"),
            func.count(),
            func.count(score),
            func.avg(score),
            *(func.count().filter(score == n) for n in range(1, 6)),
            func.count().filter(decided),
            func.count().filter(events.c.disputed.is_(True)),
            func.count().filter(events.c.reopened.is_(True)),
        )
        .select_from(Claim)
        .outerjoin(events, events.c.claim_id == Claim.id)
        .where(
            and_(
                *range_conditions(Claim.registered_at, params.date_from, params.date_to, tz),
                *filter_conditions(filters, tz),
            )
        )
        .group_by(func.rollup(gid))
    )


def _ratings(row) -> dict:
    _gid, _g, claims, rated, average, s1, s2, s3, s4, s5, decided, disputed, reopened = row
    return {
        "claims": claims,
        "rated": rated,
        "average": None if average is None else float(Decimal(average).quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "score_1": s1,
        "score_2": s2,
        "score_3": s3,
        "score_4": s4,
        "score_5": s5,
        "decided": decided,
        "disputed": disputed,
        "disputed_pct": pct(disputed, decided),
        "reopened": reopened,
        "reopened_pct": pct(reopened, decided),
    }


async def ratings_report(
    session: AsyncSession, *, params: RatingsParams, tz: ZoneInfo, filters: ClaimFilters | None = None
) -> RatingsReport:
    await prepare_report(session, sorts=True)
    result = (await session.execute(ratings_query(params, filters, tz))).all()
    row_type = RatingsDepartmentRow if params.by == "department" else RatingsReasonRow
    rows, total = await rollup_rows(
        session, result, by=params.by, values=_ratings, row_type=row_type, total_type=Ratings
    )
    return RatingsReport(date_from=params.date_from, date_to=params.date_to, by=params.by, rows=rows, total=total)
