"""Every report in every format: CSV parsed back, XLSX read back with openpyxl, PNG and SVG parsed."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from openpyxl import load_workbook
from PIL import Image

from shared.reports import REPORTS, render, run_report
from tests.reports.conftest import MOSCOW

Q1 = {"from": "2026-01-01", "to": "2026-03-31"}
VARIANTS = [
    ("dynamics", {}),
    ("dynamics", {"by": "department", "top": 2}),
    ("dynamics", {"by": "reason", "granularity": "week"}),
    ("satisfaction", {}),
    ("structure", {}),
    ("response_times", {"by": "department"}),
    ("response_times", {"by": "responsible"}),
    ("ratings", {"by": "reason"}),
]


@pytest.fixture
async def reports(db, dataset):
    out = {}
    async with db() as session:
        for name, extra in VARIANTS:
            params = REPORTS[name].params(**Q1, **extra)
            out[(name, tuple(sorted(extra.items())))] = await run_report(session, name, params, tz=MOSCOW)
        empty = REPORTS["dynamics"].params(**{"from": "2030-01-01", "to": "2030-02-28"})
        out["empty"] = await run_report(session, "dynamics", empty, tz=MOSCOW)
        for name in ("satisfaction", "structure", "response_times", "ratings"):
            params = REPORTS[name].params(**{"from": "2030-01-01", "to": "2030-02-28"})
            out[f"empty-{name}"] = await run_report(session, name, params, tz=MOSCOW)
    return out


async def test_every_report_in_every_format_parses(reports) -> None:
    for key, report in reports.items():
        # Russian in every format; English where the text differs in kind (charts are drawn once per format).
        for language, formats in (("ru", ("json", "csv", "xlsx", "png", "svg")), ("en", ("csv", "xlsx"))):
            for fmt in formats:
                rendered = render(report, fmt, language)
                assert rendered.body, (key, fmt)
                if fmt == "csv":
                    text = rendered.body.decode("utf-8-sig")
                    rows = list(csv.reader(io.StringIO(text)))
                    assert len(rows) >= (1 if key == "empty-structure" else 2), key
                    assert all(len(r) == len(rows[0]) for r in rows), key
                elif fmt == "xlsx":
                    workbook = load_workbook(io.BytesIO(rendered.body))
                    assert workbook.worksheets and all(ws.freeze_panes == "B2" for ws in workbook.worksheets)
                elif fmt == "png":
                    image = Image.open(io.BytesIO(rendered.body))
                    image.verify()
                    assert image.size == (1100, 600)
                elif fmt == "svg":
                    root = ET.fromstring(rendered.body)
                    assert root.tag.endswith("svg") and len(list(root.iter())) > 20


async def test_dynamics_xlsx_is_typed_with_header_widths_and_total(reports) -> None:
    report = reports[("dynamics", (("by", "department"), ("top", 2)))]
    workbook = load_workbook(io.BytesIO(render(report, "xlsx", "ru").body))
    sheet = workbook.worksheets[0]
    assert sheet.title == "Динамика претензий"
    header = [c.value for c in sheet[1]]
    assert header == ["Период", "Подразделение-виновник", "Зарегистрировано", "Отработано", "Не отработано"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "B2"
    first = [c.value for c in sheet[2]]
    assert first[0].date() == date(2026, 1, 1) and sheet["A2"].number_format == "yyyy-mm-dd"
    assert first[1:] == ["Доставка", 2, 2, 0]
    assert isinstance(sheet["C2"].value, int)
    assert [c.value for c in sheet[4]][1] == "Прочие"  # top=2 folded Колл-центр and "not set"
    assert [c.value for c in sheet[sheet.max_row]] == ["Итого", None, 8, 6, 2]
    assert sheet.column_dimensions["B"].width >= len("Подразделение-виновник") * 0.9
    assert sheet.auto_filter.ref == "A1:E10"


async def test_satisfaction_csv_in_english_and_russian(reports) -> None:
    report = reports[("satisfaction", ())]
    english = list(csv.reader(io.StringIO(render(report, "csv", "en").body.decode("utf-8-sig"))))
    assert english[0] == [
        "Reason",
        "Resolved",
        "Satisfied",
        "Partially satisfied",
        "Rejected",
        "Satisfied, %",
        "Partially satisfied, %",
        "Rejected, %",
    ]
    assert english[1] == ["Брак", "3", "2", "0", "1", "66.7", "0.0", "33.3"]
    assert english[3][0] == "Not set" and english[4][0] == "Total"
    russian = render(report, "csv", "ru").body
    assert russian.startswith(b"\xef\xbb\xbf") and "Не указано".encode() in russian


async def test_structure_xlsx_has_four_sheets_and_csv_one_long_table(reports) -> None:
    report = reports[("structure", ())]
    workbook = load_workbook(io.BytesIO(render(report, "xlsx", "en").body))
    assert workbook.sheetnames == ["By department", "By reason", "By employee", "Department × reason"]
    sheet = workbook["By department"]
    assert [c.value for c in sheet[2]] == ["Доставка", 4, 50.0]
    assert sheet["C2"].number_format == "0.0"
    # An employee's row carries the employee's id and department (two people of one name stay apart).
    employees = [[c.value for c in r] for r in workbook["By employee"].iter_rows()]
    assert employees[0] == ["Culprit employee", "Employee ID", "Employee's department", "Claims", "Share, %"]
    petrov = next(r for r in report.by_employee if r.employee == "Петров")
    assert ["Петров", petrov.employee_id, "Доставка", 2, 25.0] in employees
    assert employees[-1] == ["Total", None, None, 8, 100.0]
    rows = list(csv.reader(io.StringIO(render(report, "csv", "en").body.decode("utf-8-sig"))))
    assert rows[0] == [
        "Breakdown",
        "Culprit department",
        "Reason",
        "Culprit employee",
        "Employee ID",
        "Employee's department",
        "Claims",
        "Share, %",
    ]
    assert len(rows) == 1 + 4 + 3 + 3 + 7
    assert ["By employee", "", "", "Петров", str(petrov.employee_id), "Доставка", "2", "25.0"] in rows


async def test_svg_has_translated_title_and_cyrillic(reports) -> None:
    svg = render(reports[("dynamics", ())], "svg", "ru").body.decode()
    assert "Динамика претензий" in svg and "Отработано" in svg
    svg_en = render(reports[("structure", ())], "svg", "en").body.decode()
    assert "Claims structure" in svg_en and "Доставка" in svg_en
    empty = render(reports["empty-structure"], "svg", "en").body.decode()
    assert "No data for the period" in empty


async def test_json_matches_the_contract_keys(reports) -> None:
    import json

    body = json.loads(render(reports[("dynamics", ())], "json", "ru").body)
    assert set(body) == {"from", "to", "granularity", "by", "rows", "total", "peak"}
    assert set(body["rows"][0]) == {"period", "registered", "resolved", "unresolved"}
    structure = json.loads(render(reports[("structure", ())], "json", "ru").body)
    assert set(structure) == {"from", "to", "total", "by_department", "by_reason", "by_employee", "cells"}
    satisfaction = json.loads(render(reports[("satisfaction", ())], "json", "ru").body)
    assert set(satisfaction["rows"][0]) == {
        "reason",
        "resolved",
        "satisfied",
        "partially_satisfied",
        "rejected",
        "satisfied_pct",
        "partially_satisfied_pct",
        "rejected_pct",
    }
    assert set(satisfaction["total"]) == set(satisfaction["rows"][0]) - {"reason"}
