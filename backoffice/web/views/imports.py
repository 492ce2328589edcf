"""The import page (managers and admins): claims from a CSV file, the same import as
`claimdesk import claims` and POST /api/v1/imports (shared.exchange.import_claims): the whole file
is checked first and written in one transaction, or nothing is. A rejected file shows every bad
row with its line and column; an imported one, what was created (after a redirect, so reloading
the page never imports the file twice)."""

from __future__ import annotations

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.render import render, see_other
from backoffice.web.routes import WebRoute
from shared.enums import Role
from shared.exchange import COLUMNS, ImportRejected, import_claims
from shared.exchange.columns import ONE_OF_COLUMNS, REQUIRED_COLUMNS

SUMMARY = ("claims", "customers", "departments", "employees", "reasons")
SHOWN_ERRORS = 500  # a file with more bad rows shows the first ones and how many there are in all


def _summary(request: web.Request) -> dict[str, int] | None:
    raw = request.query.get("imported", "")
    parts = raw.split(",")
    if len(parts) != len(SUMMARY) or not all(p.isascii() and p.isdigit() and len(p) < 10 for p in parts):
        return None
    return dict(zip(SUMMARY, (int(p) for p in parts), strict=True))


def _page(request: web.Request, *, status: int = 200, **context: object) -> web.Response:
    base = {
        "section": "import",
        "columns": COLUMNS,
        "required": REQUIRED_COLUMNS,
        "one_of": ONE_OF_COLUMNS,
        "summary": _summary(request),
        "rejected": None,
        "missing_file": False,
        "file_name": "",
    }
    return render(request, "import.html", {**base, **context}, status=status)


async def import_page(request: web.Request) -> web.Response:
    return _page(request)


async def import_file(request: web.Request) -> web.Response:
    c = wctx(request)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return _page(request, status=422, missing_file=True)
    data = upload.file.read()
    if not data:
        return _page(request, status=422, missing_file=True, file_name=upload.filename)
    try:
        summary = await import_claims(c.session, data=data, actor=c.actor, tz=c.settings.tz)
    except ImportRejected as exc:
        errors = [{"line": e.line, "column": e.column, "reason": e.reason(c.t)} for e in exc.errors[:SHOWN_ERRORS]]
        rejected = {"errors": errors, "count": len(exc.errors)}
        return _page(request, status=422, rejected=rejected, file_name=upload.filename)
    counts = ",".join(str(summary.as_dict()[key]) for key in SUMMARY)
    return see_other(request, f"/catalogs/import?imported={counts}")


routes = [
    WebRoute("GET", "/catalogs/import", import_page, role=Role.MANAGER),
    WebRoute("POST", "/catalogs/import", import_file, role=Role.MANAGER),
]
