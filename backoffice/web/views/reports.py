"""The reports page (managers and admins): the five reports of shared/reports with their charts and
tables, the claims-list filters, period presets, and the report as CSV, XLSX, PNG or SVG.

The page reads the same parameters as GET /api/v1/reports/<report> (its query models, so the same
rules and the same default period: the last 12 months), plus `report` (which one) and `preset`
(a named period, computed again each time: a bookmarked "this month" stays this month).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError

from backoffice.api.reports import QUERIES, FilterQuery
from backoffice.web.context import WebContext, wctx
from backoffice.web.render import is_fragment_for, render
from backoffice.web.routes import WebRoute
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import list_entries
from shared.claims.workflow import ClaimResult, ClaimStatus
from shared.enums import Channel, Role
from shared.reports import REPORTS, run_report
from shared.reports import render as render_report
from shared.reports.common import ReportBody, Table
from shared.reports.formats import report_tables
from shared.reports.periods import PRESETS, local_today, preset_of, preset_range
from shared.staff.service import list_users

DEFAULT_REPORT = "dynamics"
DOWNLOADS = ("csv", "xlsx", "png", "svg")
# The report's own options the page offers, besides the period and the filters.
OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "dynamics": {"granularity": ("month", "week", "day"), "by": ("none", "department", "reason")},
    "response_times": {"by": ("department", "responsible")},
    "ratings": {"by": ("department", "reason")},
}
FILTER_FIELDS = (
    "status",
    "result",
    "channel",
    "reason_id",
    "culprit_department_id",
    "culprit_employee_id",
    "responsible_id",
    "overdue",
    "unassigned",
    "q",
)


@dataclass
class Request:
    """What the page was asked for: the report, the query values as given (for the form and the
    links) and the validated query, or the fields that were refused."""

    name: str
    values: dict[str, Any]
    preset: str | None
    query: FilterQuery | None
    invalid: list[str]


def _report_name(request: web.Request) -> str:
    name = request.query.get("report", DEFAULT_REPORT).replace("-", "_")
    return name if name in REPORTS else DEFAULT_REPORT


def read_request(request: web.Request, c: WebContext) -> Request:
    name = _report_name(request)
    model = QUERIES[name]
    known = {info.alias or field for field, info in model.model_fields.items()} - {"format"}
    values: dict[str, Any] = {}
    for key in known:
        given = [v for v in request.query.getall(key, []) if v.strip()]
        if given:
            values[key] = given if key in ("status", "result") else given[0]
    today = local_today(c.settings.tz)
    preset = request.query.get("preset")
    if preset in PRESETS:
        date_from, date_to = preset_range(preset, today)  # type: ignore[arg-type]
        values["from"], values["to"] = date_from.isoformat(), date_to.isoformat()
    else:
        preset = None
    try:
        query = model.model_validate(values)
    except ValidationError as exc:
        invalid = sorted({str(error["loc"][0]) for error in exc.errors() if error["loc"]})
        return Request(name, values, preset, None, invalid or ["report"])
    # The form shows the dates the report ran over (the default period filled in).
    values["from"], values["to"] = query.date_from.isoformat(), query.date_to.isoformat()  # type: ignore[attr-defined]
    if preset is None:
        preset = preset_of(query.date_from, query.date_to, today)  # type: ignore[attr-defined]
    return Request(name, values, preset, query, [])


def _qs(name: str, values: dict[str, Any], **extra: Any) -> str:
    pairs: list[tuple[str, str]] = [("report", name)]
    for key, value in {**values, **extra}.items():
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, str(item)))
    return urlencode(pairs)


def _links(asked: Request) -> dict[str, Any]:
    """Every link of the page, keeping the filters: the other reports, the presets, the files."""
    base = {k: v for k, v in asked.values.items() if k not in ("from", "to")}
    period = {k: asked.values[k] for k in ("from", "to") if k in asked.values}
    keep_period = {"preset": asked.preset} if asked.preset else period
    common = {k: v for k, v in base.items() if k in FILTER_FIELDS}
    return {
        "tabs": {name: "/reports?" + _qs(name, {**common, **keep_period}) for name in REPORTS},
        "presets": {p: "/reports?" + _qs(asked.name, {**base, "preset": p}) for p in PRESETS},
        "downloads": {f: "/reports/download?" + _qs(asked.name, {**base, **period}, format=f) for f in DOWNLOADS},
        "chart": "/reports/chart?" + _qs(asked.name, {**base, **period}),
    }


async def _choices(c: WebContext) -> dict[str, Any]:
    """The filters' options: every catalog entry (a deactivated one still filters old claims)."""
    return {
        "departments": await list_entries(c.session, Department),
        "employees": await list_entries(c.session, Employee),
        "reasons": await list_entries(c.session, Reason),
        "staff": await list_users(c.session),
        "statuses": [s.value for s in ClaimStatus],
        "results": [r.value for r in ClaimResult],
        "channels": [ch.value for ch in Channel],
    }


def _field_label(c: WebContext, field: str) -> str:
    key = f"web.reports.field.{field}"
    return c.t(key) if c.t.has(key) else field


async def _run(c: WebContext, asked: Request) -> ReportBody:
    assert asked.query is not None
    return await run_report(c.session, asked.name, asked.query, tz=c.settings.tz, filters=asked.query.filters())


async def reports_page(request: web.Request) -> web.Response:
    c = wctx(request)
    asked = read_request(request, c)
    report: ReportBody | None = None
    tables: list[Table] = []
    if asked.query is not None:
        report = await _run(c, asked)
        tables = report_tables(report, c.t)
    context = {
        "asked": asked,
        "report": report,
        "tables": tables,
        "reports": list(REPORTS),
        "presets": PRESETS,
        "options": OPTIONS.get(asked.name, {}),
        "links": _links(asked),
        "downloads": DOWNLOADS,
        "granularity": getattr(report, "granularity", None),
        "invalid": [_field_label(c, field) for field in asked.invalid],
        "filters_set": sum(1 for key in FILTER_FIELDS if key in asked.values),
        **await _choices(c),
    }
    status = 422 if asked.invalid else 200
    if is_fragment_for(request, "reports-body"):
        return render(request, "reports_body.html", context, status=status)
    return render(request, "reports.html", context, status=status)


async def _rendered(request: web.Request, fmt: str) -> tuple[bytes, str, str]:
    c = wctx(request)
    asked = read_request(request, c)
    if asked.query is None:
        raise web.HTTPUnprocessableEntity()
    report = await _run(c, asked)
    # XLSX and charts are CPU work: off the event loop (as the API does).
    rendered = await asyncio.to_thread(render_report, report, fmt, c.language)
    return rendered.body, rendered.content_type, rendered.filename


async def download(request: web.Request) -> web.Response:
    fmt = request.query.get("format", "")
    if fmt not in DOWNLOADS:
        raise web.HTTPNotFound()
    body, content_type, filename = await _rendered(request, fmt)
    return web.Response(
        body=body,
        headers={"Content-Type": content_type, "Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def chart(request: web.Request) -> web.Response:
    """The chart shown on the page (SVG: sharp at any width, its text selectable)."""
    body, content_type, _ = await _rendered(request, "svg")
    return web.Response(body=body, headers={"Content-Type": content_type})


routes = [
    WebRoute("GET", "/reports", reports_page, role=Role.MANAGER),
    WebRoute("GET", "/reports/download", download, role=Role.MANAGER),
    WebRoute("GET", "/reports/chart", chart, role=Role.MANAGER),
]
