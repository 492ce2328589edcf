"""Exporting claims in the import's columns (CSV or XLSX), with the claims-list filters, so that an
export imports again into an empty desk and gives the same reports.

Timestamps are ISO 8601 in TIMEZONE with their offset (`2026-02-01T01:30:00+03:00`); `responsible`
is the staff login (what the import matches first); `requirement` is the customer's own words when
given, else the remedy code. Rows stream from a server-side cursor, so a million claims do not sit
in memory.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.catalogs.models import Department, Employee, Reason
from shared.claims.filters import ClaimFilters, claim_conditions
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.exchange.cells import csv_protect, xlsx_value
from shared.exchange.columns import COLUMNS, TEXT_COLUMNS
from shared.staff.models import StaffUser

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TIMESTAMPS = ("registered_at", "resolved_at", "closed_at")
AMOUNTS = ("amount_claimed", "amount_granted")


def export_query(filters: ClaimFilters | None, tz: ZoneInfo):
    department, reason, employee, staff = (aliased(Department), aliased(Reason), aliased(Employee), aliased(StaffUser))
    query = (
        select(
            Claim.number,
            Claim.registered_at,
            Customer.name,
            Customer.phone,
            Customer.telegram_user_id,
            Claim.channel,
            Claim.subject,
            Claim.description,
            Claim.remedy,
            Claim.remedy_text,
            reason.name,
            department.name,
            employee.name,
            staff.login,
            Claim.status,
            Claim.result,
            Claim.resolution,
            Claim.resolved_at,
            Claim.closed_at,
            Claim.amount_claimed,
            Claim.amount_granted,
        )
        .join(Customer, Customer.id == Claim.customer_id)
        .outerjoin(reason, reason.id == Claim.reason_id)
        .outerjoin(department, department.id == Claim.culprit_department_id)
        .outerjoin(employee, employee.id == Claim.culprit_employee_id)
        .outerjoin(staff, staff.id == Claim.responsible_id)
        .order_by(Claim.registered_at, Claim.id)
    )
    conditions = claim_conditions(filters or ClaimFilters(), tz)
    return query.where(and_(*conditions)) if conditions else query


async def export_rows(
    session: AsyncSession, *, filters: ClaimFilters | None = None, tz: ZoneInfo
) -> AsyncIterator[dict[str, Any]]:
    """Each claim as a dict keyed by the import's columns, values typed (datetimes local, aware)."""
    result = await session.stream(export_query(filters, tz).execution_options(yield_per=2000))
    async for (
        number,
        registered_at,
        name,
        phone,
        telegram_id,
        channel,
        subject,
        description,
        remedy,
        remedy_text,
        reason,
        department,
        employee,
        responsible,
        status,
        result_,
        resolution,
        resolved_at,
        closed_at,
        amount_claimed,
        amount_granted,
    ) in result:
        yield {
            "number": number,
            "registered_at": registered_at.astimezone(tz),
            "customer_name": name,
            "customer_phone": phone,
            "customer_telegram_id": telegram_id,
            "channel": channel,
            "subject": subject,
            "description": description,
            "requirement": remedy_text or remedy,
            "reason": reason,
            "culprit_department": department,
            "culprit_employee": employee,
            "responsible": responsible,
            "status": status,
            "result": result_,
            "resolution": resolution,
            "resolved_at": resolved_at.astimezone(tz) if resolved_at else None,
            "closed_at": closed_at.astimezone(tz) if closed_at else None,
            "amount_claimed": amount_claimed,
            "amount_granted": amount_granted,
        }


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value


async def export_csv_chunks(
    session: AsyncSession, *, filters: ClaimFilters | None = None, tz: ZoneInfo, rows_per_chunk: int = 1000
) -> AsyncIterator[bytes]:
    """The CSV in pieces (UTF-8 with a BOM, comma-separated, quoted where needed), header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    yield ("\ufeff" + buffer.getvalue()).encode()
    buffer.seek(0)
    buffer.truncate()
    n = 0
    async for row in export_rows(session, filters=filters, tz=tz):
        # Customer text that a spreadsheet would run as a formula gets a `'` (the import takes it off).
        writer.writerow([csv_protect(_csv_value(row[c])) if c in TEXT_COLUMNS else _csv_value(row[c]) for c in COLUMNS])
        n += 1
        if n % rows_per_chunk == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


async def export_csv(session: AsyncSession, *, filters: ClaimFilters | None = None, tz: ZoneInfo) -> bytes:
    return b"".join([chunk async for chunk in export_csv_chunks(session, filters=filters, tz=tz)])


WIDTHS = {
    "number": 14,
    "registered_at": 20,
    "customer_name": 24,
    "customer_phone": 16,
    "customer_telegram_id": 14,
    "channel": 10,
    "subject": 40,
    "description": 60,
    "requirement": 20,
    "reason": 24,
    "culprit_department": 24,
    "culprit_employee": 24,
    "responsible": 14,
    "status": 12,
    "result": 18,
    "resolution": 40,
    "resolved_at": 20,
    "closed_at": 20,
    "amount_claimed": 14,
    "amount_granted": 14,
}


async def export_xlsx(session: AsyncSession, *, filters: ClaimFilters | None = None, tz: ZoneInfo) -> bytes:
    """The same columns as a typed workbook (write-only mode: constant memory per row).

    Excel has no time zones: timestamps are written as local wall-clock times in TIMEZONE.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("claims")
    sheet.freeze_panes = "B2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = WIDTHS[column]
    bold = Font(bold=True)
    header = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=column)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    async for row in export_rows(session, filters=filters, tz=tz):
        values = []
        for column in COLUMNS:
            value = row[column]
            if column in TIMESTAMPS and value is not None:
                cell = WriteOnlyCell(sheet, value=value.replace(tzinfo=None))
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
                values.append(cell)
            elif column in AMOUNTS and value is not None:
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = "#,##0.00"
                values.append(cell)
            elif column in TEXT_COLUMNS:
                values.append(xlsx_value(sheet, value))  # `=...` stays text, never a formula
            else:
                values.append(value)
        sheet.append(values)
    with tempfile.TemporaryFile() as handle:  # write-only workbooks stream through a file
        workbook.save(handle)
        handle.seek(0)
        return handle.read()
