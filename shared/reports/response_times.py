"""Response times of claims registered in the range, per culprit department or responsible:
median and 90th percentile of the hours to the first staff response and to the decision, the share
answered and decided within the SLA, and how many of them are overdue now.

The SLA of a decision is the claim's own `due_at` (set at registration from SLA_RESOLUTION_HOURS,
moved by staff when agreed with the customer); the first-response SLA is SLA_FIRST_RESPONSE_HOURS.
Percentiles are PostgreSQL's `percentile_cont`, interpolated, over the hours stored on the claim
(`first_response_hours`, `resolution_hours`: generated columns), the groups and the total in one
statement (GROUPING SETS).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Float, and_, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.filters import ClaimFilters
from shared.claims.models import Claim
from shared.claims.workflow import OPEN_STATUSES
from shared.clock import utcnow
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
from shared.settings import get_settings

By = Literal["department", "responsible"]


class ResponseTimesParams(RangeParams):
    by: By = "department"


class ResponseTimes(BaseModel):
    claims: int = 0
    responded: int = 0
    first_response_median_h: float | None = None
    first_response_p90_h: float | None = None
    first_response_within_sla_pct: float = 0.0
    resolved: int = 0
    resolution_median_h: float | None = None
    resolution_p90_h: float | None = None
    resolved_within_sla: int = 0
    resolved_within_sla_pct: float = 0.0
    overdue_now: int = 0


class ResponseTimesDepartmentRow(ResponseTimes):
    department: str | None


class ResponseTimesResponsibleRow(ResponseTimes):
    responsible: str | None


class SlaHours(BaseModel):
    first_response: int
    resolution: int


class ResponseTimesReport(ReportBody):
    by: By
    sla_hours: SlaHours
    rows: list[ResponseTimesDepartmentRow | ResponseTimesResponsibleRow]
    total: ResponseTimes


QUANTILES = (0.5, 0.9)


def response_times_query(params: ResponseTimesParams, filters: ClaimFilters | None, tz: ZoneInfo):
    """One statement: per group (grouping flag 0) and for all the claims of the range (flag 1),
    GROUPING SETS ((group), ()): (group id, flag, claims, responded, first response [median, p90],
    first response within the SLA, resolved, resolution [median, p90], resolved within the SLA,
    overdue now).

    The percentiles are PostgreSQL's `percentile_cont` (interpolated) over the hours stored on the
    claim; the claims come in group order from the per-group covering index (ix_claim_department_...,
    ix_claim_responsible_...), so only the hours of each group and of the total are sorted.
    """
    settings = get_settings()
    first_sla = timedelta(hours=settings.sla_first_response_hours)
    resolution_sla = timedelta(hours=settings.sla_resolution_hours)
    gid = GROUPS[params.by][0]
    quantiles = array([literal(q) for q in QUANTILES])
    deadline = func.coalesce(Claim.due_at, Claim.registered_at + resolution_sla)
    late = and_(Claim.status.in_([s.value for s in OPEN_STATUSES]), Claim.due_at < utcnow())
    return (
        select(
            gid,
            func.grouping(gid),
            func.count(),
            func.count(Claim.first_response_at),
            func.percentile_cont(quantiles).within_group(Claim.first_response_hours).cast(ARRAY(Float)),
            func.count().filter(Claim.first_response_at <= Claim.registered_at + first_sla),
            func.count(Claim.resolved_at),
            func.percentile_cont(quantiles).within_group(Claim.resolution_hours).cast(ARRAY(Float)),
            func.count().filter(Claim.resolved_at <= deadline),
            func.count().filter(late),
        )
        .where(
            *range_conditions(Claim.registered_at, params.date_from, params.date_to, tz),
            *filter_conditions(filters, tz),
        )
        .group_by(func.grouping_sets(tuple_(gid), tuple_()))
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value + 0.0, 1)


def _times(row) -> dict:
    _gid, _g, claims, responded, first_q, first_ok, resolved, res_q, res_ok, overdue = row
    first_q = first_q or [None, None]
    res_q = res_q or [None, None]
    return {
        "claims": claims,
        "responded": responded,
        "first_response_median_h": _round(first_q[0]),
        "first_response_p90_h": _round(first_q[1]),
        "first_response_within_sla_pct": pct(first_ok, responded),
        "resolved": resolved,
        "resolution_median_h": _round(res_q[0]),
        "resolution_p90_h": _round(res_q[1]),
        "resolved_within_sla": res_ok,
        "resolved_within_sla_pct": pct(res_ok, resolved),
        "overdue_now": overdue,
    }


async def response_times_report(
    session: AsyncSession, *, params: ResponseTimesParams, tz: ZoneInfo, filters: ClaimFilters | None = None
) -> ResponseTimesReport:
    settings = get_settings()
    await prepare_report(session, sorts=True)
    result = (await session.execute(response_times_query(params, filters, tz))).all()
    row_type = ResponseTimesDepartmentRow if params.by == "department" else ResponseTimesResponsibleRow
    rows, total = await rollup_rows(
        session, result, by=params.by, values=_times, row_type=row_type, total_type=ResponseTimes
    )
    return ResponseTimesReport(
        date_from=params.date_from,
        date_to=params.date_to,
        by=params.by,
        sla_hours=SlaHours(first_response=settings.sla_first_response_hours, resolution=settings.sla_resolution_hours),
        rows=rows,
        total=total,
    )
