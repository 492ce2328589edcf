"""Reports as files: the tables each report is written as, then CSV and XLSX writers over them.

Headers and group labels are in the requester's language (`reports.*` keys); values stay typed
(dates as dates, counts as integers, shares and hours as numbers shown with one decimal), so a
spreadsheet can sort and sum them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from shared.exchange.cells import csv_protect, xlsx_value
from shared.i18n import Translator
from shared.reports.common import OTHER, Column, ReportBody, Table
from shared.reports.dynamics import DynamicsReport
from shared.reports.ratings import Ratings, RatingsReport
from shared.reports.response_times import ResponseTimes, ResponseTimesReport
from shared.reports.satisfaction import SatisfactionCounts, SatisfactionReport
from shared.reports.structure import StructureReport

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

NUMBER_FORMATS = {"int": "#,##0", "float": "0.00", "pct": "0.0", "hours": "0.0", "date": "yyyy-mm-dd"}


def group_label(value: str | None, t: Translator) -> str:
    if value is None:
        return t("reports.not_set")
    if value == OTHER:
        return t("reports.other")
    return value


def _columns(t: Translator, spec: Sequence[tuple[str, str]]) -> list[Column]:
    return [Column(key, t(f"reports.col.{key}"), kind) for key, kind in spec]  # type: ignore[arg-type]


def _table_from(
    name: str, columns: list[Column], rows: Sequence[Any], total: Any | None, t: Translator, group_key: str | None
) -> Table:
    table = Table(name=name, columns=columns)
    for row in rows:
        data = row if isinstance(row, dict) else row.model_dump()
        table.rows.append([group_label(data.get(c.key), t) if c.key == group_key else data.get(c.key) for c in columns])
    if total is not None:
        data = total if isinstance(total, dict) else total.model_dump()
        first = columns[0].key
        table.rows.append([t("reports.total") if c.key == first else data.get(c.key) for c in columns])
        table.has_total = True
    return table


def dynamics_tables(report: DynamicsReport, t: Translator) -> list[Table]:
    spec = [("period", "date")]
    if report.by != "none":
        spec.append((report.by, "text"))
    spec += [("registered", "int"), ("resolved", "int"), ("unresolved", "int")]
    group = report.by if report.by != "none" else None
    return [_table_from(t("reports.title.dynamics"), _columns(t, spec), report.rows, report.total, t, group)]


_SATISFACTION = [("reason", "text")] + [
    (k, "int" if not k.endswith("_pct") else "pct") for k in SatisfactionCounts.model_fields
]


def satisfaction_tables(report: SatisfactionReport, t: Translator) -> list[Table]:
    return [
        _table_from(t("reports.title.satisfaction"), _columns(t, _SATISFACTION), report.rows, report.total, t, "reason")
    ]


# An employee's row names the employee, their id and their department: two people of one name
# stay two rows that a reader can tell apart.
_EMPLOYEE_COLUMNS = [("employee", "text"), ("employee_id", "int"), ("employee_department", "text")]


def _employee_row(row: Any, t: Translator) -> dict[str, Any]:
    return {
        "employee": group_label(row.employee, t),
        "employee_id": row.employee_id,
        "employee_department": row.department if row.employee_id is not None else None,
    }


def structure_tables(report: StructureReport, t: Translator) -> list[Table]:
    tables = []
    for key, dimension in (("by_department", "department"), ("by_reason", "reason")):
        columns = _columns(t, [(dimension, "text"), ("count", "int"), ("share_pct", "pct")])
        total = {dimension: None, "count": report.total, "share_pct": 100.0 if report.total else 0.0}
        tables.append(_table_from(t(f"reports.sheet.{key}"), columns, getattr(report, key), total, t, dimension))
    employees = Table(
        name=t("reports.sheet.by_employee"),
        columns=_columns(t, [*_EMPLOYEE_COLUMNS, ("count", "int"), ("share_pct", "pct")]),
    )
    for row in report.by_employee:
        values = _employee_row(row, t) | {"count": row.count, "share_pct": row.share_pct}
        employees.rows.append([values.get(c.key) for c in employees.columns])
    employees.rows.append([t("reports.total"), None, None, report.total, 100.0 if report.total else 0.0])
    employees.has_total = True
    tables.append(employees)
    cells = Table(
        name=t("reports.sheet.cells"),
        columns=_columns(t, [("department", "text"), ("reason", "text"), ("count", "int")]),
        rows=[[group_label(c.department, t), group_label(c.reason, t), c.count] for c in report.cells],
    )
    tables.append(cells)
    return tables


def structure_csv_table(report: StructureReport, t: Translator) -> Table:
    """The four lists in one long table (one header, one breakdown column), as CSV has one table."""
    columns = _columns(
        t,
        [
            ("dimension", "text"),
            ("department", "text"),
            ("reason", "text"),
            *_EMPLOYEE_COLUMNS,
            ("count", "int"),
            ("share_pct", "pct"),
        ],
    )
    table = Table(name=t("reports.title.structure"), columns=columns)
    for key, dimension in (("by_department", "department"), ("by_reason", "reason"), ("by_employee", "employee")):
        for row in getattr(report, key):
            values = {
                "dimension": t(f"reports.sheet.{key}"),
                **({dimension: group_label(getattr(row, dimension), t)} if key != "by_employee" else {}),
                **(_employee_row(row, t) if key == "by_employee" else {}),
                "count": row.count,
                "share_pct": row.share_pct,
            }
            table.rows.append([values.get(c.key) for c in columns])
    for cell in report.cells:
        values = {
            "dimension": t("reports.sheet.cells"),
            "department": group_label(cell.department, t),
            "reason": group_label(cell.reason, t),
            "count": cell.count,
        }
        table.rows.append([values.get(c.key) for c in columns])
    return table


def _kind(key: str) -> str:
    if key.endswith("_pct"):
        return "pct"
    if key.endswith("_h"):
        return "hours"
    if key == "average":
        return "float"
    return "int"


def response_times_tables(report: ResponseTimesReport, t: Translator) -> list[Table]:
    spec = [(report.by, "text")] + [(k, _kind(k)) for k in ResponseTimes.model_fields]
    return [_table_from(t("reports.title.response_times"), _columns(t, spec), report.rows, report.total, t, report.by)]


def ratings_tables(report: RatingsReport, t: Translator) -> list[Table]:
    spec = [(report.by, "text")] + [(k, _kind(k)) for k in Ratings.model_fields]
    return [_table_from(t("reports.title.ratings"), _columns(t, spec), report.rows, report.total, t, report.by)]


TABLES: dict[type[ReportBody], Callable[[Any, Translator], list[Table]]] = {
    DynamicsReport: dynamics_tables,
    SatisfactionReport: satisfaction_tables,
    StructureReport: structure_tables,
    ResponseTimesReport: response_times_tables,
    RatingsReport: ratings_tables,
}


def report_tables(report: ReportBody, t: Translator) -> list[Table]:
    return TABLES[type(report)](report, t)


def csv_table(report: ReportBody, t: Translator) -> Table:
    if isinstance(report, StructureReport):
        return structure_csv_table(report, t)
    return report_tables(report, t)[0]


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def write_csv(table: Table) -> bytes:
    """UTF-8 with a BOM (Excel then reads Cyrillic right), comma-separated, CRLF as RFC 4180 says."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.label for c in table.columns])
    writer.writerows([[csv_protect(_csv_value(v)) for v in row] for row in table.rows])  # no formulas
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def report_csv(report: ReportBody, t: Translator) -> bytes:
    return write_csv(csv_table(report, t))


_INVALID_SHEET_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


def sheet_title(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    title = name.translate(_INVALID_SHEET_CHARS).strip()[:31] or "Sheet"
    base, n = title, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(title.lower())
    return title


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, float):
        return len(f"{value:.1f}")
    if isinstance(value, date):
        return 10
    return max((len(line) for line in str(value).splitlines()), default=0)


HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")


def write_xlsx(tables: Sequence[Table], *, title: str = "") -> bytes:
    """One sheet per table: a bold header row, frozen under the header and the first column,
    typed cells with number formats, an auto-filter and column widths fitted to the content."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    workbook.properties.title = title
    workbook.properties.creator = "claimdesk"
    taken: set[str] = set()
    for table in tables:
        sheet = workbook.create_sheet(sheet_title(table.name, taken))
        sheet.append([c.label for c in table.columns])
        for cell in sheet[1]:
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in table.rows:
            sheet.append([xlsx_value(sheet, v) for v in row])  # text stays text, never a formula
        for index, column in enumerate(table.columns, start=1):
            fmt = NUMBER_FORMATS.get(column.kind)
            if fmt:
                for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = fmt
            widest = max([_width(r[index - 1]) for r in table.rows] + [min(len(column.label), 30)])
            sheet.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, 8), 60)
        if table.has_total:
            for cell in sheet[sheet.max_row]:
                cell.font = HEADER_FONT
        sheet.freeze_panes = "B2"
        data_rows = len(table.rows) - (1 if table.has_total else 0)
        if data_rows:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{data_rows + 1}"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def report_xlsx(report: ReportBody, t: Translator) -> bytes:
    title = t(f"reports.title.{report_name(report)}")
    return write_xlsx(report_tables(report, t), title=title)


NAMES: dict[type[ReportBody], str] = {
    DynamicsReport: "dynamics",
    SatisfactionReport: "satisfaction",
    StructureReport: "structure",
    ResponseTimesReport: "response_times",
    RatingsReport: "ratings",
}


def report_name(report: ReportBody) -> str:
    return NAMES[type(report)]
