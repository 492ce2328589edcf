"""What every report shares: the date range in TIMEZONE, the claims-list filters, group names,
percentages, and the table shape the file formats (csv, xlsx) are written from."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, Row, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.catalogs.models import Department, Employee, Reason
from shared.claims.filters import ClaimFilters, claim_conditions
from shared.claims.models import Claim
from shared.clock import start_of_local_day
from shared.reports.periods import local_today, resolve_range
from shared.settings import get_settings
from shared.staff.models import StaffUser

RowT = TypeVar("RowT", bound=BaseModel)
TotalT = TypeVar("TotalT", bound=BaseModel)

# A range wider than this is almost certainly a typo (a year 20260 or a day-granularity decade).
MAX_RANGE_DAYS = 366 * 20
OTHER = "other"  # the group `top` folds the smaller groups into, as 1C's "Прочие"

ColumnKind = Literal["text", "int", "float", "pct", "date", "hours"]


class RangeParams(BaseModel):
    """`from` and `to`: local dates in TIMEZONE, both inclusive. Left out, they are filled in by
    the one period rule (`shared.reports.periods.resolve_range`: the last 12 months up to today)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    # Never None once validated (`_ordered` fills a missing end); optional to the caller.
    date_from: date = Field(
        default=None,  # type: ignore[assignment]
        alias="from",
        description="inclusive, a date in the desk's time zone; default: the 1st of the month 11 months before `to`",
    )
    date_to: date = Field(
        default=None,  # type: ignore[assignment]
        alias="to",
        description="inclusive; default: today (so, without both, the last 12 months)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RangeParams:
        if self.date_from is None or self.date_to is None:
            self.date_from, self.date_to = resolve_range(self.date_from, self.date_to, local_today(get_settings().tz))
        for day in (self.date_from, self.date_to):
            # Far dates overflow when shifted between time zones; nobody files a claim in year 1.
            if not 1900 <= day.year <= 9998:
                raise ValueError("dates must be in the years 1900 to 9998")
        if self.date_to < self.date_from:
            raise ValueError("'to' is before 'from'")
        if (self.date_to - self.date_from).days > MAX_RANGE_DAYS:
            raise ValueError(f"the range is longer than {MAX_RANGE_DAYS} days")
        return self


class ReportBody(BaseModel):
    """Base of every report's JSON body; `from`/`to` are keywords in Python, aliases in JSON."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    date_from: date = Field(serialization_alias="from", alias="from")
    date_to: date = Field(serialization_alias="to", alias="to")

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def range_conditions(column: Any, date_from: date, date_to: date, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """`column` falls on a local day from `date_from` to `date_to` inclusive.

    Compared as UTC instants (not `local(column)::date BETWEEN`) so that the btree index on the
    column serves the range.
    """
    return [
        column >= start_of_local_day(date_from, tz),
        column < start_of_local_day(date_to + timedelta(days=1), tz),
    ]


def filter_conditions(filters: ClaimFilters | None, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    return claim_conditions(filters or ClaimFilters(), tz)


# Percentiles and GROUPING SETS sort the claims of the range; with the default 4 MB a million rows
# spill to disk. A report is a rare, manager-only request: give its transaction room to sort in memory.
REPORT_WORK_MEM = "256MB"

# asyncpg prepares every statement and keeps it per connection; after five runs PostgreSQL may
# switch a prepared statement to its generic plan, planned without the dates of the range. For the
# response-times report that plan was three times slower (3.0-3.7 s instead of 1.1 s on a million
# claims), on every run after the fifth on a pooled connection. Planning a report costs a few
# milliseconds: plan each run for its own range.
REPORT_PLAN_CACHE_MODE = "force_custom_plan"


async def prepare_report(session: AsyncSession, *, sorts: bool) -> None:
    """Settings of the report's transaction (`set_config(..., true)` is `SET LOCAL`: only the
    current transaction, the request's, is affected): custom plans always, and room to sort in
    memory for the reports that sort (`sorts`)."""
    if sorts:
        await session.execute(
            text("SELECT set_config('plan_cache_mode', :mode, true), set_config('work_mem', :mem, true)"),
            {"mode": REPORT_PLAN_CACHE_MODE, "mem": REPORT_WORK_MEM},
        )
    else:
        await session.execute(
            text("SELECT set_config('plan_cache_mode', :mode, true)"), {"mode": REPORT_PLAN_CACHE_MODE}
        )


def pct(part: int, whole: int) -> float:
    """Percentage rounded half-up to one decimal (as a person would round 12.25 -> 12.3)."""
    if not whole:
        return 0.0
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return float(value)


# The grouping dimensions reports use: claim column, the catalog whose name labels it.
GROUPS: dict[str, tuple[Any, Any]] = {
    "department": (Claim.culprit_department_id, Department),
    "reason": (Claim.reason_id, Reason),
    "employee": (Claim.culprit_employee_id, Employee),
    "responsible": (Claim.responsible_id, StaffUser),
}


async def group_names(session: AsyncSession, group: str, ids: set[int]) -> dict[int, str]:
    """Names of the catalog entries behind group ids (one small query per report)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    model = GROUPS[group][1]
    if model is StaffUser:
        label = func.coalesce(func.nullif(StaffUser.full_name, ""), StaffUser.login)
        rows = await session.execute(select(StaffUser.id, label).where(StaffUser.id.in_(ids)))
    else:
        rows = await session.execute(select(model.id, model.name).where(model.id.in_(ids)))
    return {ident: name for ident, name in rows.all()}


async def rollup_rows(
    session: AsyncSession,
    result: Sequence[Row[Any]],
    *,
    by: str,
    values: Callable[[Row[Any]], dict[str, Any]],
    row_type: type[RowT],
    total_type: type[TotalT],
) -> tuple[list[RowT], TotalT]:
    """Rows of a `GROUP BY ROLLUP (group id)` query (columns: id, grouping(), values...): one row per
    group, named and sorted by claims (unnamed last), and the total row."""
    names = await group_names(session, by, {r[0] for r in result if r[0] is not None and r[1] == 0})
    rows: list[RowT] = []
    total = total_type()
    for row in result:
        if row[1] == 1:
            total = total_type(**values(row))
            continue
        label = names.get(row[0]) if row[0] is not None else None
        rows.append(row_type(**{by: label}, **values(row)))
    rows.sort(key=lambda r: (-r.claims, getattr(r, by) is None, getattr(r, by) or ""))
    return rows, total


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    kind: ColumnKind = "text"


@dataclass(slots=True)
class Table:
    """One sheet of a report as files see it: translated headers, typed values, rows in order."""

    name: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    has_total: bool = False  # the last row is the total (bold, outside the auto-filter)
