"""Response times of claims registered in the range, per culprit department or responsible:
median and 90th percentile of the hours to the first staff response and to the decision, the share
answered and decided within the SLA, and how many of them are overdue now.

The SLA of a decision is the claim's own `due_at` (set at registration from SLA_RESOLUTION_HOURS,
moved by staff when agreed with the customer); the first-response SLA is SLA_FIRST_RESPONSE_HOURS.
Percentiles are `percentile_cont`, interpolated, over the hours stored on the claim
(`first_response_hours`, `resolution_hours`: generated columns, the expression this report
evaluated per row before); a ROLLUP per measure gives the groups and the total.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import BigInteger, Float, and_, cast, func, literal, null, select, union_all
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


def response_times_query(params: ResponseTimesParams, filters: ClaimFilters | None, tz: ZoneInfo):
    """Two ROLLUPs in one UNION ALL, one per measure (0: first response, 1: decision), each row
    (group id, grouping flag, measure, claims, measured, [median, p90], within the SLA, overdue now).

    The percentile sorts of the two measures are independent: as two branches, PostgreSQL runs them
    side by side (a Parallel Append), each reading the groups in group order from the per-group
    covering index (no sort of the claims by group). `response_times_rows` joins the halves.
    """
    settings = get_settings()
    first_sla = timedelta(hours=settings.sla_first_response_hours)
    resolution_sla = timedelta(hours=settings.sla_resolution_hours)
    gid = GROUPS[params.by][0]
    quantiles = array([literal(0.5), literal(0.9)])
    where = and_(
        *range_conditions(Claim.registered_at, params.date_from, params.date_to, tz),
        *filter_conditions(filters, tz),
    )

    def branch(measure: int, measured, hours, within_sla, overdue):
        return (
            select(
                gid.label("gid"),
                func.grouping(gid).label("g"),
                literal(measure).label("measure"),
                func.count().label("claims"),
                func.count(measured).label("measured"),
                # The stored date_part('epoch', ...) / 3600: double precision (extract() gives
                # numeric since PostgreSQL 14, which sorts several times slower here).
                func.percentile_cont(quantiles).within_group(hours).cast(ARRAY(Float)).label("quantiles"),
                func.count().filter(within_sla).label("within_sla"),
                overdue.label("overdue"),
            )
            .where(where)
            .group_by(func.rollup(gid))
        )

    deadline = func.coalesce(Claim.due_at, Claim.registered_at + resolution_sla)
    late = and_(Claim.status.in_([s.value for s in OPEN_STATUSES]), Claim.due_at < utcnow())
    return union_all(
        branch(0, Claim.first_response_at, Claim.first_response_hours,
               Claim.first_response_at <= Claim.registered_at + first_sla, cast(null(), BigInteger)),
        branch(1, Claim.resolved_at, Claim.resolution_hours, Claim.resolved_at <= deadline,
               func.count().filter(late)),
    )


def response_times_rows(result) -> list[tuple]:
    """The halves of `response_times_query` joined into one row per group and the total:
    (group id, grouping flag, claims, responded, first [median, p90], first within SLA, resolved,
    resolution [median, p90], resolved within SLA, overdue now)."""
    merged: dict[tuple, list] = {}
    for gid, g, measure, claims, measured, quantiles, within_sla, overdue in result:
        row = merged.setdefault((g, gid), [gid, g, claims, 0, None, 0, 0, None, 0, 0])
        if measure == 0:
            row[3:6] = [measured, quantiles, within_sla]
        else:
            row[6:10] = [measured, quantiles, within_sla, overdue]
    return [tuple(row) for row in merged.values()]


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
    result = response_times_rows((await session.execute(response_times_query(params, filters, tz))).all())
    row_type = ResponseTimesDepartmentRow if params.by == "department" else ResponseTimesResponsibleRow
    rows, total = await rollup_rows(
        session, result, by=params.by, values=_times, row_type=row_type, total_type=ResponseTimes
    )
    return ResponseTimesReport(
        date_from=params.date_from,
        date_to=params.date_to,
        by=params.by,
        sla_hours=SlaHours(
            first_response=settings.sla_first_response_hours, resolution=settings.sla_resolution_hours
        ),
        rows=rows,
        total=total,
    )
