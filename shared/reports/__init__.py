"""Reports over claims: one module per report (the query and its row/body types), rendered as JSON,
CSV, XLSX, PNG or SVG. The HTTP layer and the benches go through `REPORTS`, `run_report` and `render`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.filters import ClaimFilters
from shared.reports.common import RangeParams, ReportBody
from shared.reports.dynamics import DynamicsParams, DynamicsReport, dynamics_report
from shared.reports.ratings import RatingsParams, RatingsReport, ratings_report
from shared.reports.response_times import ResponseTimesParams, ResponseTimesReport, response_times_report
from shared.reports.satisfaction import SatisfactionParams, SatisfactionReport, satisfaction_report
from shared.reports.structure import StructureParams, StructureReport, structure_report

Format = Literal["json", "csv", "xlsx", "png", "svg"]
FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "png", "svg")


@dataclass(frozen=True)
class ReportSpec:
    name: str  # the key of its texts (reports.title.<name>)
    slug: str  # its URL segment
    params: type[RangeParams]
    body: type[ReportBody]
    run: Callable[..., Awaitable[ReportBody]]


REPORTS: dict[str, ReportSpec] = {
    spec.name: spec
    for spec in (
        ReportSpec("dynamics", "dynamics", DynamicsParams, DynamicsReport, dynamics_report),
        ReportSpec("satisfaction", "satisfaction", SatisfactionParams, SatisfactionReport, satisfaction_report),
        ReportSpec("structure", "structure", StructureParams, StructureReport, structure_report),
        ReportSpec("response_times", "response-times", ResponseTimesParams, ResponseTimesReport, response_times_report),
        ReportSpec("ratings", "ratings", RatingsParams, RatingsReport, ratings_report),
    )
}


async def run_report(
    session: AsyncSession, name: str, params: RangeParams, *, tz: ZoneInfo, filters: ClaimFilters | None = None
) -> ReportBody:
    return await REPORTS[name].run(session, params=params, tz=tz, filters=filters)


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    filename: str


def render(report: ReportBody, fmt: str, language: str | None) -> Rendered:
    """The report in a format, texts in `language`. CPU-bound (XLSX, charts): call it off the loop."""
    from shared.i18n import get_translator
    from shared.reports import charts, formats

    t = get_translator(language)
    name = formats.report_name(report)
    stem = f"{name}_{report.date_from.isoformat()}_{report.date_to.isoformat()}"
    if fmt == "json":
        body = json.dumps(report.as_json(), ensure_ascii=False).encode()
        return Rendered(body, "application/json", f"{stem}.json")
    if fmt == "csv":
        return Rendered(formats.report_csv(report, t), formats.CSV_TYPE, f"{stem}.csv")
    if fmt == "xlsx":
        return Rendered(formats.report_xlsx(report, t), formats.XLSX_TYPE, f"{stem}.xlsx")
    if fmt in ("png", "svg"):
        content_type = charts.PNG_TYPE if fmt == "png" else charts.SVG_TYPE
        return Rendered(charts.render_chart(report, t, fmt), content_type, f"{stem}.{fmt}")
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "REPORTS", "Rendered", "ReportSpec", "render", "run_report"]
