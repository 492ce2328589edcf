"""Claims in and out as files: POST /api/v1/imports (multipart CSV) and
GET /api/v1/claims/export?format=csv|xlsx with the claims-list filters. Managers and admins only.

The import is all or nothing: a file with any bad row answers 422 with every bad row (line where
the record starts, column, reason) in `rows`, and nothing is written.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field

from backoffice.api import ApiRoute
from backoffice.api.claims import Day
from backoffice.api.http import read_query
from backoffice.api.reports import FilterQuery
from backoffice.context import ctx
from backoffice.problems import ApiProblem, FieldError
from shared.enums import Role
from shared.exchange import ImportRejected, export_csv_chunks, export_xlsx, import_claims
from shared.exchange.exporter import CSV_TYPE, XLSX_TYPE

TAGS = ("exchange",)
MAX_FILE = 20 * 1024 * 1024  # the app's client_max_size


class ImportResult(BaseModel):
    claims: int
    customers: int
    departments: int
    employees: int
    reasons: int
    encoding: str
    delimiter: str


class ExportQuery(FilterQuery):
    format: Literal["csv", "xlsx"] = "csv"  # type: ignore[assignment]
    registered_from: Day | None = Field(default=None, description="inclusive, a date in the desk's time zone")
    registered_to: Day | None = Field(default=None, description="inclusive")


async def _file_of(request: web.Request) -> bytes:
    if not request.content_type.startswith("multipart/"):
        raise ApiProblem(415, "unsupported_media_type", "reports.import.problem.multipart")
    try:
        reader = await request.multipart()
        async for part in reader:
            if getattr(part, "name", None) == "file":
                # Read by chunks up to the limit: `part.read()` would buffer a part of any size.
                data = bytearray()
                while chunk := await part.read_chunk():  # type: ignore[union-attr]
                    data.extend(chunk)
                    if len(data) > MAX_FILE:
                        raise ApiProblem(413, "too_large", "api.problem.too_large", limit=MAX_FILE)
                return bytes(data)
    except (ValueError, AssertionError, LookupError, HttpProcessingError):
        # aiohttp's multipart reader refuses a missing boundary or a malformed part this way, and a
        # part's header without a colon as an InvalidHeader (an HttpProcessingError).
        raise ApiProblem(400, "bad_request", "reports.import.problem.multipart") from None
    raise ApiProblem(
        422,
        "invalid",
        "api.problem.invalid",
        errors=[FieldError(field="file", message="a multipart part named 'file' is required", type="missing")],
    )


async def import_claims_view(request: web.Request) -> web.Response:
    """Import claims from a CSV file (multipart field `file`): every row checked first, all or nothing."""
    c = ctx(request)
    data = await _file_of(request)
    try:
        summary = await import_claims(c.session, data=data, actor=c.actor, tz=c.settings.tz)
    except ImportRejected as exc:
        rows = [e.as_dict(c.t) for e in exc.errors]
        errors = [
            FieldError(field=e.column or "file", message=f"line {e.line}: {e.reason(c.t)}", type=e.code)
            for e in exc.errors
        ]
        raise ApiProblem(
            422,
            "import_rejected",
            "reports.import.problem.rejected",
            errors=errors,
            extra={"rows": rows},
            count=len(rows),
        ) from None
    return web.Response(
        body=ImportResult(
            **summary.as_dict(), encoding=summary.encoding, delimiter=summary.delimiter
        ).model_dump_json(),
        status=201,
        content_type="application/json",
    )


async def export_claims_view(request: web.Request) -> web.StreamResponse:
    """Claims in the import's columns (CSV streamed, or XLSX), filtered like the claims list."""
    c = ctx(request)
    query = read_query(request, ExportQuery)
    filters = replace(query.filters(), registered_from=query.registered_from, registered_to=query.registered_to)
    if query.format == "xlsx":
        body = await export_xlsx(c.session, filters=filters, tz=c.settings.tz)
        return web.Response(
            body=body, headers={"Content-Type": XLSX_TYPE, "Content-Disposition": 'attachment; filename="claims.xlsx"'}
        )
    response = web.StreamResponse(
        headers={"Content-Type": CSV_TYPE, "Content-Disposition": 'attachment; filename="claims.csv"'}
    )
    await response.prepare(request)
    async for chunk in export_csv_chunks(c.session, filters=filters, tz=c.settings.tz):
        await response.write(chunk)
    await response.write_eof()
    return response


routes = [
    ApiRoute(
        "POST",
        "/api/v1/imports",
        import_claims_view,
        Role.MANAGER,
        "Import claims from CSV",
        response=ImportResult,
        status=201,
        errors=(400, 413, 415, 422),
        tags=TAGS,
        request_types=("multipart/form-data",),
    ),
    ApiRoute(
        "GET",
        "/api/v1/claims/export",
        export_claims_view,
        Role.MANAGER,
        "Export claims (CSV or XLSX)",
        query=ExportQuery,
        content_type=("text/csv", XLSX_TYPE),
        tags=TAGS,
    ),  # type: ignore[arg-type]
]
