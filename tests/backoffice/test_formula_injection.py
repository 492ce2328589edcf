"""Customer text never becomes a spreadsheet formula: claims export (CSV, XLSX) and report files,
over HTTP; the import takes the CSV's `'` off again."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from aiohttp import FormData
from openpyxl import load_workbook

from shared.clock import utcnow
from shared.exchange.cells import csv_protect, csv_unprotect
from tests.backoffice.conftest import Api

LINK = '=HYPERLINK("http://x","y")'
SUM = "=1+2"
MINUS = "-5 over budget"


async def _claims(api: Api) -> None:
    department = await api.json("POST", "/api/v1/departments", expect=201, json={"name": "@SUM(A1:A9)"})
    await api.json(
        "POST",
        "/api/v1/claims",
        expect=201,
        json={
            "channel": "phone",
            "customer_name": LINK,
            "customer_phone": "+79000000001",
            "subject": MINUS,
            "description": SUM,
            "culprit_department_id": department["id"],
        },
    )
    await api.json(
        "POST",
        "/api/v1/claims",
        expect=201,
        json={
            "channel": "email",
            "customer_name": "'=already quoted",
            "customer_phone": "+79000000002",
            "subject": "plain",
            "description": "'plain with a quote",
        },
    )


def test_csv_protection_is_inverted_by_the_import() -> None:
    for value in (LINK, SUM, MINUS, "+7", "@x", "\tx", "\rx", "'=x", "''-x", "'x", "plain", ""):
        assert csv_unprotect(csv_protect(value)) == value
    assert csv_protect(SUM) == "'=1+2" and csv_protect("'=x") == "''=x" and csv_protect("'x") == "'x"


async def test_exported_claims_carry_no_formulas_and_import_back(api: Api) -> None:
    await _claims(api)
    response = await api.call("GET", "/api/v1/claims/export?format=xlsx", as_="manager")
    assert response.status == 200
    sheet = load_workbook(io.BytesIO(await response.read()))["claims"]
    header = [c.value for c in sheet[1]]
    cells = {
        (row[0].value, name): cell for row in sheet.iter_rows(min_row=2) for name, cell in zip(header, row, strict=True)
    }
    number = next(n for (n, col), c in cells.items() if col == "customer_name" and c.value == LINK)
    for column, value in (
        ("customer_name", LINK),
        ("description", SUM),
        ("subject", MINUS),
        ("culprit_department", "@SUM(A1:A9)"),
    ):
        cell = cells[(number, column)]
        assert (cell.value, cell.data_type) == (value, "s"), column  # kept exactly, a string, not "f"
    assert cells[(number, "customer_phone")].value == "+79000000001"  # phones are left alone

    response = await api.call("GET", "/api/v1/claims/export?format=csv", as_="manager")
    exported = await response.read()
    rows = {r["number"]: r for r in csv.DictReader(io.StringIO(exported.decode("utf-8-sig")))}
    row = rows[number]
    assert (row["customer_name"], row["description"], row["subject"], row["culprit_department"]) == (
        "'" + LINK,
        "'=1+2",
        "'-5 over budget",
        "'@SUM(A1:A9)",
    )
    assert row["customer_phone"] == "+79000000001"
    other = next(r for r in rows.values() if r["number"] != number)
    assert (other["customer_name"], other["description"]) == ("''=already quoted", "'plain with a quote")

    # The import takes the `'` off again (the byte-for-byte round trip: tests/exchange).
    again = io.StringIO()
    writer = csv.DictWriter(again, fieldnames=list(row))
    writer.writeheader()
    writer.writerows([r | {"number": ""} for r in rows.values()])  # numbered anew, as new claims
    form = FormData()
    form.add_field("file", again.getvalue().encode(), filename="claims.csv", content_type="text/csv")
    response = await api.client.post(
        "/api/v1/imports", data=form, headers={"Authorization": f"Bearer {api.tokens['manager']}"}
    )
    assert response.status == 201, await response.text()
    imported = (await api.json("GET", "/api/v1/claims?q=budget&sort=registered_at"))["items"]
    assert [c["customer_name"] for c in imported] == [LINK, LINK]
    assert [c["subject"] for c in imported] == [MINUS, MINUS]


async def test_report_files_carry_no_formulas(api: Api) -> None:
    await _claims(api)
    today = utcnow().date()
    period = f"from={today - timedelta(days=2)}&to={today + timedelta(days=2)}"
    response = await api.call("GET", f"/api/v1/reports/structure?{period}&format=xlsx", as_="manager")
    assert response.status == 200, await response.text()
    workbook = load_workbook(io.BytesIO(await response.read()))
    cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row if c.value == "@SUM(A1:A9)"]
    assert cells and all(c.data_type == "s" for c in cells)
    assert not [c for sheet in workbook for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    response = await api.call("GET", f"/api/v1/reports/structure?{period}&format=csv", as_="manager")
    body = (await response.read()).decode("utf-8-sig")
    values = [v for r in csv.reader(io.StringIO(body)) for v in r]
    assert "'@SUM(A1:A9)" in values and "@SUM(A1:A9)" not in values
