"""Response times of claims registered in the range, per culprit department or responsible:
median and 90th percentile of the hours to the first staff response and to the decision, the share
answered and decided within the SLA, and how many of them are overdue now.

The SLA of a decision is the claim's own `due_at` (set at registration from SLA_RESOLUTION_HOURS,
moved by staff when agreed with the customer); the first-response SLA is SLA_FIRST_RESPONSE_HOURS.
Percentiles are those of `percentile_cont` (interpolated) over the durations counted in whole
minutes (rounded down): exact to the minute. They come from a histogram, not a sort: the durations
of the range are hash-aggregated into per-minute buckets per group (GROUPING SETS: the groups and the
total in one pass), and running sums over the buckets (a few thousand rows, not a million) find the
two ranks around each percentile. `percentile_cont` over the raw seconds sorted every duration of
the range and took ~3 s on a million claims; the figures differ from it by less than a minute,
which the one-decimal hours shown cannot tell apart except at a rounding edge. The counts (claims,
within SLA, overdue) come from one ROLLUP.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Integer, and_, func, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.filters import ClaimFilters
from shared.claims.models import Claim
from shared.claims.workflow import OPEN_STATUSES
from shared.clock import utcnow
from shared.reports.common import (
    GROUPS,
    RangeParams,
    ReportBody,
    allow_memory_for_sorting,
    filter_conditions,
    group_names,
    pct,
    range_conditions,
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


def _hours(interval_expr):
    return func.extract("epoch", interval_expr) / 3600.0


QUANTILES = (0.5, 0.9)


def _minutes(end):
    """Whole minutes from registration to `end`, rounded down (the histogram's bucket)."""
    return func.floor(func.extract("epoch", end - Claim.registered_at) / 60)


def _conditions(params: ResponseTimesParams, filters: ClaimFilters | None, tz: ZoneInfo) -> list:
    return [
        *range_conditions(Claim.registered_at, params.date_from, params.date_to, tz),
        *filter_conditions(filters, tz),
    ]


def response_times_query(params: ResponseTimesParams, filters: ClaimFilters | None, tz: ZoneInfo):
    """The counts per group and in total (ROLLUP)."""
    settings = get_settings()
    first_sla = timedelta(hours=settings.sla_first_response_hours)
    resolution_sla = timedelta(hours=settings.sla_resolution_hours)
    gid = GROUPS[params.by][0]
    deadline = func.coalesce(Claim.due_at, Claim.registered_at + resolution_sla)
    return (
        select(
            gid.label("gid"),
            func.grouping(gid).label("g"),
            func.count(),
            func.count(Claim.first_response_at),
            func.count().filter(Claim.first_response_at <= Claim.registered_at + first_sla),
            func.count(Claim.resolved_at),
            func.count().filter(Claim.resolved_at <= deadline),
            func.count().filter(
                and_(Claim.status.in_([s.value for s in OPEN_STATUSES]), Claim.due_at < utcnow())
            ),
        )
        .where(*_conditions(params, filters, tz))
        .group_by(func.rollup(gid))
    )


def percentiles_query(params: ResponseTimesParams, filters: ClaimFilters | None, tz: ZoneInfo):
    """Per group (and in total: g = 1) and kind (0 first response, 1 resolution): the number of
    durations and, for each quantile, the minute buckets at the two ranks around it."""
    gid = GROUPS[params.by][0]
    conditions = _conditions(params, filters, tz)
    histograms = []
    for kind, end in enumerate((Claim.first_response_at, Claim.resolved_at)):
        minute = _minutes(end)
        histograms.append(
            select(
                gid.label("gid"),
                func.grouping(gid).label("g"),
                literal(kind, Integer).label("kind"),
                minute.label("m"),
                func.count().label("n"),
            )
            .where(*conditions, end.is_not(None))
            .group_by(func.grouping_sets(tuple_(gid, minute), tuple_(minute)))
        )
    buckets = union_all(*histograms).subquery("buckets")
    partition = (buckets.c.gid, buckets.c.g, buckets.c.kind)
    running = select(
        *partition,
        buckets.c.m,
        func.sum(buckets.c.n).over(partition_by=partition, order_by=buckets.c.m).label("upto"),
        func.sum(buckets.c.n).over(partition_by=partition).label("total"),
    ).subquery("running")
    around = []
    for q in QUANTILES:
        rank = (running.c.total - 1) * q  # 0-based rank of the quantile, as percentile_cont
        around += [
            func.min(running.c.m).filter(running.c.upto > func.floor(rank)),
            func.min(running.c.m).filter(running.c.upto > func.ceil(rank)),
        ]
    return select(running.c.gid, running.c.g, running.c.kind, func.max(running.c.total), *around).group_by(
        running.c.gid, running.c.g, running.c.kind
    )


def _quantiles(total: int, around: list[float]) -> list[float | None]:
    """Hours at each quantile: percentile_cont's interpolation between the two ranks' minutes."""
    hours: list[float | None] = []
    for i, q in enumerate(QUANTILES):
        lo, hi = around[2 * i], around[2 * i + 1]
        rank = (total - 1) * q
        hours.append((lo + (rank - math.floor(rank)) * (hi - lo)) / 60.0)
    return hours


def _round(value: float | None) -> float | None:
    return None if value is None else round(value + 0.0, 1)


def _times(row, quantiles: dict[int, list[float | None]]) -> dict:
    _gid, _g, claims, responded, first_ok, resolved, res_ok, overdue = row
    first_q = quantiles.get(0, [None, None])
    res_q = quantiles.get(1, [None, None])
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
    await allow_memory_for_sorting(session)
    result = (await session.execute(response_times_query(params, filters, tz))).all()
    quantiles: dict[tuple[int | None, int], dict[int, list[float | None]]] = {}
    for gid, g, kind, total, *around in (await session.execute(percentiles_query(params, filters, tz))).all():
        quantiles.setdefault((gid, g), {})[kind] = _quantiles(int(total), [float(m) for m in around])
    names = await group_names(session, params.by, {r[0] for r in result if r[0] is not None and r[1] == 0})
    row_type = ResponseTimesDepartmentRow if params.by == "department" else ResponseTimesResponsibleRow
    rows = []
    total = ResponseTimes()
    for row in result:
        if row[1] == 1:
            total = ResponseTimes(**_times(row, quantiles.get((None, 1), {})))
            continue
        label = names.get(row[0]) if row[0] is not None else None
        rows.append(row_type(**{params.by: label}, **_times(row, quantiles.get((row[0], 0), {}))))
    rows.sort(key=lambda r: (-r.claims, getattr(r, params.by) is None, getattr(r, params.by) or ""))
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
