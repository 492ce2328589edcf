"""Reports: GET /api/v1/reports/{dynamics,satisfaction,structure,response-times,ratings}.

Each takes its own parameters (`from`, `to`: the last 12 months when left out, the rule of
shared/reports/periods.py the reports page uses too; ...), the claims-list filters and `format`
(json, csv, xlsx, png, svg); texts of files and charts are in the requester's language.
Managers and admins only. Queries and rendering live in shared/reports.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiohttp import web
from pydantic import ConfigDict

from backoffice.api import ApiRoute
from backoffice.api.claims import ClaimFilterQuery
from backoffice.api.http import read_query
from backoffice.context import ctx
from shared.enums import Role
from shared.reports import REPORTS, ReportSpec, render, run_report
from shared.reports.dynamics import DynamicsParams
from shared.reports.ratings import RatingsParams
from shared.reports.response_times import ResponseTimesParams
from shared.reports.satisfaction import SatisfactionParams
from shared.reports.structure import StructureParams

TAGS = ("reports",)
# What `format` chooses between (documented as the route's response types).
MEDIA_TYPES = (
    "application/json",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "image/png",
    "image/svg+xml",
)


class FilterQuery(ClaimFilterQuery):
    """The claims-list filters (the same as GET /api/v1/claims) and the output format."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    format: Literal["json", "csv", "xlsx", "png", "svg"] = "json"


# One query model per report: its own parameters (validated as in shared/reports) plus the filters.
class DynamicsQuery(DynamicsParams, FilterQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SatisfactionQuery(SatisfactionParams, FilterQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StructureQuery(StructureParams, FilterQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ResponseTimesQuery(ResponseTimesParams, FilterQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RatingsQuery(RatingsParams, FilterQuery):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


QUERIES: dict[str, type[FilterQuery]] = {
    "dynamics": DynamicsQuery,
    "satisfaction": SatisfactionQuery,
    "structure": StructureQuery,
    "response_times": ResponseTimesQuery,
    "ratings": RatingsQuery,
}


async def _answer(request: web.Request, spec: ReportSpec) -> web.Response:
    c = ctx(request)
    query = read_query(request, QUERIES[spec.name])
    report = await run_report(c.session, spec.name, query, tz=c.settings.tz, filters=query.filters())
    if query.format == "json":
        return web.Response(body=report.model_dump_json(by_alias=True), content_type="application/json")
    # XLSX and charts are CPU work: off the event loop.
    rendered = await asyncio.to_thread(render, report, query.format, c.language)
    return web.Response(
        body=rendered.body,
        headers={
            "Content-Type": rendered.content_type,
            "Content-Disposition": f'attachment; filename="{rendered.filename}"',
        },
    )


async def report_dynamics(request: web.Request) -> web.Response:
    """Claims registered per period; resolved (now resolved or closed) and unresolved; by department or reason."""
    return await _answer(request, REPORTS["dynamics"])


async def report_satisfaction(request: web.Request) -> web.Response:
    """Claims decided in the range, per reason: satisfied, partially satisfied, rejected and their shares."""
    return await _answer(request, REPORTS["satisfaction"])


async def report_structure(request: web.Request) -> web.Response:
    """Claims registered in the range by department, reason, employee, and department x reason."""
    return await _answer(request, REPORTS["structure"])


async def report_response_times(request: web.Request) -> web.Response:
    """Median and 90th percentile hours to first response and to decision, SLA shares, overdue now."""
    return await _answer(request, REPORTS["response_times"])


async def report_ratings(request: web.Request) -> web.Response:
    """Average customer rating and its 1-5 distribution, shares of decisions disputed and reopened."""
    return await _answer(request, REPORTS["ratings"])


VIEWS = {
    "dynamics": (report_dynamics, "Claims dynamics"),
    "satisfaction": (report_satisfaction, "Claim satisfaction"),
    "structure": (report_structure, "Claims structure"),
    "response_times": (report_response_times, "Response times"),
    "ratings": (report_ratings, "Customer ratings"),
}

routes = [
    ApiRoute(
        "GET",
        f"/api/v1/reports/{spec.slug}",
        VIEWS[name][0],
        Role.MANAGER,
        VIEWS[name][1],
        query=QUERIES[name],
        response=spec.body,
        content_type=MEDIA_TYPES,  # type: ignore[arg-type]
        tags=TAGS,
    )
    for name, spec in REPORTS.items()
]
