"""Response times of claims registered in the range, per culprit department or responsible:
median and 90th percentile of the hours to the first staff response and to the decision, the share
answered and decided within the SLA, and how many of them are overdue now.

The SLA of a decision is the claim's own `due_at` (set at registration from SLA_RESOLUTION_HOURS,
moved by staff when agreed with the customer); the first-response SLA is SLA_FIRST_RESPONSE_HOURS.
Percentiles are `percentile_cont`, interpolated, over the hours stored on the claim
(`first_response_hours`, `resolution_hours`: generated columns, the expression this report
evaluated per row before); a GROUP BY per measure gives the groups, and the total's percentiles
come from windows of hours around sampled estimates (see SAMPLE_PERCENT) rather than from a ROLLUP
that sorted every claim of the range a second time.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import BigInteger, Float, and_, cast, func, literal, null, select, text, union_all
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, array
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.util import ClauseAdapter

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


# The total's percentiles without sorting every claim of the range a second time (the ROLLUP's
# total row did: ~40 % of the query). A 1 % block sample of the range estimates each percentile;
# the query then returns, per group, how many hours lie below a window around the estimate and the
# hours inside it, and the total's percentile is read from the window, exactly as percentile_cont
# would (the same positions and interpolation, in the same float8 arithmetic). When the sample is
# too small or the window misses the position, `_fallback_totals` asks PostgreSQL for the total.
SAMPLE_PERCENT = 1.0
SAMPLE_MIN = 200  # sampled hours a window needs; below, the total comes from `_fallback_totals`
QUANTILES = (0.5, 0.9)
MEASURE_HOURS = (Claim.first_response_hours, Claim.resolution_hours)

Window = tuple[float, float]  # the hours kept for the total: low <= hours <= high


def _where(params: ResponseTimesParams, filters: ClaimFilters | None, tz: ZoneInfo):
    return and_(
        *range_conditions(Claim.registered_at, params.date_from, params.date_to, tz),
        *filter_conditions(filters, tz),
    )


def _window(sample: list[float], p: float) -> Window | None:
    """Hours around the sample's p-quantile, wide enough (6 standard errors of a sample quantile,
    at least 1 % of the claims each side) that the total's quantile is almost surely inside."""
    n = len(sample)
    if n < SAMPLE_MIN:
        return None
    margin = max(0.01, 6 * math.sqrt(p * (1 - p) / n))
    low, high = p - margin, p + margin
    return (
        sample[max(0, math.floor(low * (n - 1)))] if low > 0 else -math.inf,
        sample[min(n - 1, math.ceil(high * (n - 1)))] if high < 1 else math.inf,
    )


async def _windows(session: AsyncSession, where, by: By) -> tuple[list[list[Window | None]], int | None]:
    """Per measure, per quantile: the window of hours the query keeps for the total; and the group
    id splitting the sampled claims in halves (None: too few to bother)."""
    sample = Claim.__table__.tablesample(func.system(SAMPLE_PERCENT), name="claim_sample")
    adapted = ClauseAdapter(sample).traverse(where)
    gid = sample.c[GROUPS[by][0].key]
    columns = [
        func.array_agg(aggregate_order_by(sample.c[h.key], sample.c[h.key])).filter(sample.c[h.key].is_not(None))
        for h in MEASURE_HOURS
    ]
    split = func.percentile_disc(0.5).within_group(gid)
    *hours, middle, sampled = (
        await session.execute(select(*columns, split, func.count(gid)).select_from(sample).where(adapted))
    ).one()
    windows = [[_window(values or [], p) for p in QUANTILES] for values in hours]
    return windows, (middle if sampled >= SAMPLE_MIN else None)


def response_times_query(
    params: ResponseTimesParams,
    filters: ClaimFilters | None,
    tz: ZoneInfo,
    windows: list[list[Window | None]] | None = None,
    split: int | None = None,
):
    """Per group: (group id, claims) and per measure (0: first response, 1: decision) (measured,
    [median, p90], within the SLA, overdue now, hours measured, and per quantile: hours below its
    window, the hours inside it).

    With `split` (a group id), the groups below it, from it on, and the claims without a group are
    three branches of a UNION ALL: PostgreSQL runs them side by side (a Parallel Append), each
    reading its share of the groups, in group order, from the per-group covering index (no sort of
    the claims by group), so the claims are read once, by two processes. `response_times_rows`
    adds the total.
    """
    settings = get_settings()
    first_sla = timedelta(hours=settings.sla_first_response_hours)
    resolution_sla = timedelta(hours=settings.sla_resolution_hours)
    gid = GROUPS[params.by][0]
    quantiles = array([literal(q) for q in QUANTILES])
    where = _where(params, filters, tz)
    windows = windows or [[None] * len(QUANTILES)] * len(MEASURE_HOURS)

    def kept(hours, measure_windows):
        columns = []
        for window in measure_windows:
            if window is None:
                columns += [cast(null(), BigInteger), cast(null(), ARRAY(Float))]
                continue
            low, high = window
            below = hours < low if low != -math.inf else literal(False)
            inside = [hours >= low if low != -math.inf else hours.is_not(None)]
            if high != math.inf:
                inside.append(hours <= high)
            # Unsorted: the groups' windows are sorted together, once, in Python.
            columns += [func.count().filter(below), func.array_agg(hours).filter(and_(*inside))]
        return columns

    def measure(index: int, measured, hours, within_sla, overdue):
        return [
            func.count(measured),
            # The stored date_part('epoch', ...) / 3600: double precision (extract() gives
            # numeric since PostgreSQL 14, which sorts several times slower here).
            func.percentile_cont(quantiles).within_group(hours).cast(ARRAY(Float)),
            func.count().filter(within_sla),
            overdue,
            func.count(hours),
            *kept(hours, windows[index]),
        ]

    deadline = func.coalesce(Claim.due_at, Claim.registered_at + resolution_sla)
    late = and_(Claim.status.in_([s.value for s in OPEN_STATUSES]), Claim.due_at < utcnow())
    columns = [
        gid,
        func.count(),
        *measure(
            0,
            Claim.first_response_at,
            Claim.first_response_hours,
            Claim.first_response_at <= Claim.registered_at + first_sla,
            cast(null(), BigInteger),
        ),
        *measure(
            1, Claim.resolved_at, Claim.resolution_hours, Claim.resolved_at <= deadline, func.count().filter(late)
        ),
    ]
    columns = [column.label(f"c{i}") for i, column in enumerate(columns)]
    if split is None:
        return select(*columns).where(where).group_by(gid)
    return union_all(
        *(select(*columns).where(where, part).group_by(gid) for part in (gid < split, gid >= split, gid.is_(None)))
    )


def _percentile(n: int, p: float, below: int, inside: list[float]) -> float | None:
    """percentile_cont(p) of n hours of which `below` lie below the window and `inside` (sorted)
    in it, as PostgreSQL computes it (position p * (n - 1), linear interpolation); None when the
    window does not hold the position."""
    position = p * (n - 1)
    first, second = math.floor(position), math.ceil(position)
    if first < below or second - below >= len(inside):
        return None
    low = inside[first - below]
    if second == first:
        return low
    high = inside[second - below]
    return low + (high - low) * (position - first)


MEASURE_COLUMNS = 5 + 2 * len(QUANTILES)


def response_times_rows(result) -> tuple[list[tuple], list[list[float | None] | None]]:
    """The rows of `response_times_query`, one per group, and the total (grouping flag 1):
    (group id, grouping flag, claims, responded, first [median, p90], first within SLA, resolved,
    resolution [median, p90], resolved within SLA, overdue now); and per measure the total's
    [median, p90] (None: to be asked from PostgreSQL, `_fallback_totals`)."""
    rows = []
    total = [None, 1, 0, 0, None, 0, 0, None, 0, 0]
    hours = [0] * len(MEASURE_HOURS)
    kept: list[list[tuple[int, list[float]] | None]] = [[(0, []) for _ in QUANTILES] for _ in MEASURE_HOURS]
    for gid, claims, *values in result:
        first = values[:MEASURE_COLUMNS]
        second = values[MEASURE_COLUMNS:]
        row = (gid, 0, claims, first[0], first[1], first[2], second[0], second[1], second[2], second[3])
        rows.append(row)
        for i in (2, 3, 5, 6, 8, 9):
            total[i] += row[i] or 0
        for m, measure in enumerate((first, second)):
            hours[m] += measure[4]
            for q in range(len(QUANTILES)):
                below, inside = measure[5 + 2 * q], measure[6 + 2 * q]
                if kept[m][q] is None or below is None:
                    kept[m][q] = None
                else:
                    kept[m][q] = (kept[m][q][0] + below, kept[m][q][1] + list(inside or []))
    totals: list[list[float | None] | None] = []
    for m in range(len(MEASURE_HOURS)):
        n = hours[m]
        if n == 0:
            totals.append([None] * len(QUANTILES))
            continue
        found = []
        for q, p in enumerate(QUANTILES):
            window = kept[m][q]
            found.append(None if window is None else _percentile(n, p, window[0], sorted(window[1])))
        totals.append(None if None in found else found)
    return [*rows, tuple(total)], totals


async def _fallback_totals(session: AsyncSession, where, measures: list[int]) -> dict[int, list[float] | None]:
    """The total's [median, p90] of the measures whose windows missed, from PostgreSQL itself."""
    quantiles = array([literal(q) for q in QUANTILES])
    columns = [func.percentile_cont(quantiles).within_group(MEASURE_HOURS[m]).cast(ARRAY(Float)) for m in measures]
    row = (await session.execute(select(*columns).where(where))).one()
    return dict(zip(measures, row, strict=True))


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
    # The windows' aggregates lift the plan's cost over jit_above_cost: compiling the expressions of
    # both branches costs more (~100-200 ms) than it saves on a million claims.
    await session.execute(text("SELECT set_config('jit', 'off', true)"))
    where = _where(params, filters, tz)
    windows, split = await _windows(session, where, params.by)
    result, totals = response_times_rows(
        (await session.execute(response_times_query(params, filters, tz, windows, split))).all()
    )
    missed = [m for m, values in enumerate(totals) if values is None]
    if missed:
        for m, values in (await _fallback_totals(session, where, missed)).items():
            totals[m] = values
    total = list(result[-1])
    total[4], total[7] = totals
    result[-1] = tuple(total)
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
