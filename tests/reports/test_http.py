"""The report and exchange routes over HTTP: roles, formats, filters, problem+json."""

from __future__ import annotations

import io

import aiohttp
from openpyxl import load_workbook

from shared.reports.periods import local_today, twelve_months_to
from shared.settings import get_settings
from tests.backoffice.conftest import api, settings_extra, throttle  # noqa: F401  (fixtures)

Q1 = "from=2026-01-01&to=2026-03-31"


async def test_reports_answer_json_and_files_to_managers_only(api, dataset) -> None:  # noqa: F811
    body = await api.json("GET", f"/api/v1/reports/dynamics?{Q1}", as_="manager")
    assert body["from"] == "2026-01-01" and body["total"] == {"registered": 8, "resolved": 6, "unresolved": 2}
    assert (await api.call("GET", f"/api/v1/reports/dynamics?{Q1}", as_="operator")).status == 403
    assert (await api.call("GET", f"/api/v1/reports/dynamics?{Q1}", as_=None)).status == 401
    for slug in ("satisfaction", "structure", "response-times", "ratings"):
        await api.json("GET", f"/api/v1/reports/{slug}?{Q1}", as_="admin")
    phone = await api.json("GET", f"/api/v1/reports/structure?{Q1}&channel=phone", as_="manager")
    assert phone["total"] == 1
    top = await api.json("GET", f"/api/v1/reports/dynamics?{Q1}&by=department&top=2", as_="manager")
    assert [r["department"] for r in top["rows"][:3]] == ["Доставка", "Склад", "other"]

    expected = {
        "csv": "text/csv",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "png": "image/png",
        "svg": "image/svg+xml",
    }
    for fmt, content_type in expected.items():
        response = await api.call(
            "GET", f"/api/v1/reports/satisfaction?{Q1}&format={fmt}", as_="manager", headers={"Accept-Language": "ru"}
        )
        assert response.status == 200 and response.content_type == content_type, fmt
        assert "attachment" in response.headers["Content-Disposition"]
        data = await response.read()
        if fmt == "xlsx":
            assert load_workbook(io.BytesIO(data)).worksheets[0]["A1"].value == "Причина"
        if fmt == "csv":
            assert data.decode("utf-8-sig").startswith("Причина,")


async def test_bad_report_parameters_are_problems(api, dataset) -> None:  # noqa: F811
    response = await api.call("GET", "/api/v1/reports/dynamics?from=2026-03-01&to=2026-01-01", as_="manager")
    assert response.status == 422 and response.content_type == "application/problem+json"
    assert (await api.call("GET", f"/api/v1/reports/dynamics?{Q1}&format=pdf", as_="manager")).status == 422
    assert (await api.call("GET", "/api/v1/reports/dynamics?to=2026-01-xx", as_="manager")).status == 422


async def test_reports_default_to_the_last_12_months(api, dataset) -> None:  # noqa: F811
    """Without `from`/`to` a report covers the last 12 months, as the reports page does (the one rule
    of shared.reports.periods); with only `to`, the 12 months up to it; with only `from`, until today."""
    today = local_today(get_settings().tz)
    body = await api.json("GET", "/api/v1/reports/dynamics", as_="manager")
    assert (body["from"], body["to"]) == (twelve_months_to(today).isoformat(), today.isoformat())
    assert len(body["rows"]) == 12
    body = await api.json("GET", "/api/v1/reports/structure?to=2026-03-31", as_="manager")
    assert (body["from"], body["to"]) == ("2025-04-01", "2026-03-31")
    body = await api.json("GET", "/api/v1/reports/ratings?from=2026-01-01", as_="manager")
    assert (body["from"], body["to"]) == ("2026-01-01", today.isoformat())
    document = await api.json("GET", "/api/openapi.json", as_=None)
    parameters = document["paths"]["/api/v1/reports/dynamics"]["get"]["parameters"]
    assert {p["name"]: p["required"] for p in parameters if p["name"] in ("from", "to")} == {
        "from": False,
        "to": False,
    }


def multipart(data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename="claims.csv", content_type="text/csv")
    return form


async def test_import_and_export_over_http(api) -> None:  # noqa: F811
    header = (
        "registered_at;customer_name;customer_phone;channel;subject;description;requirement;reason;"
        "culprit_department;culprit_employee;responsible;status;result;resolution;resolved_at;closed_at;"
        "amount_claimed;amount_granted"
    )
    good = (
        header + '\n2026-01-05 10:00;Анна;+79000000001;phone;;"Две\nстроки";;Брак;Склад;;manager;new;;;;;;\n'
    ).encode("cp1251")
    bad = good + "2026-01-06;Анна;;fax;;x;;;;;;new;;;;;;\n".encode("cp1251")
    headers = {"Authorization": f"Bearer {api.tokens['manager']}", "Accept-Language": "en"}
    response = await api.client.post("/api/v1/imports", data=multipart(bad), headers=headers)
    problem = await response.json(content_type=None)
    assert response.status == 422 and problem["code"] == "import_rejected"
    assert problem["rows"] == [
        {
            "line": 4,
            "column": "channel",
            "code": "bad_choice",
            "reason": "Must be one of: telegram, phone, email, web, import",
        }
    ]
    operator = {"Authorization": f"Bearer {api.tokens['operator']}"}
    assert (await api.client.post("/api/v1/imports", data=multipart(good), headers=operator)).status == 403
    response = await api.client.post("/api/v1/imports", data=multipart(good), headers=headers)
    assert response.status == 201, await response.text()
    assert await response.json() == {
        "claims": 1,
        "customers": 1,
        "departments": 1,
        "employees": 0,
        "reasons": 1,
        "encoding": "cp1251",
        "delimiter": ";",
    }

    exported = await api.call("GET", "/api/v1/claims/export?format=csv&channel=phone", as_="manager")
    assert exported.status == 200 and exported.content_type == "text/csv"
    text = (await exported.read()).decode("utf-8-sig")
    assert text.startswith("number,registered_at,") and '"Две\nстроки"' in text and ",manager,new," in text
    none = await api.call("GET", "/api/v1/claims/export?channel=web&registered_from=2026-01-01", as_="manager")
    assert (await none.read()).decode("utf-8-sig").count("\n") == 1  # the header only
    xlsx = await api.call("GET", "/api/v1/claims/export?format=xlsx", as_="admin")
    assert load_workbook(io.BytesIO(await xlsx.read()))["claims"].max_row == 2
    assert (await api.call("GET", "/api/v1/claims/export", as_="operator")).status == 403


async def test_malformed_multipart_is_a_400_problem(api) -> None:  # noqa: F811
    headers = {"Authorization": f"Bearer {api.tokens['manager']}"}
    bodies = [
        ("multipart/form-data", b"--x\r\n"),  # no boundary parameter
        ("multipart/form-data; boundary=x", b"garbage without any boundary line"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'),
        ("multipart/form-data; boundary=x", b"--x\r\nno-colon-header\r\n\r\nabc\r\n--x--\r\n"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Type: text/plain; charset=nope\r\n"
            b'Content-Disposition: form-data; name="file"\r\n\r\nabc\r\n--x--\r\n',
        ),
    ]
    for content_type, body in bodies:
        response = await api.client.post(
            "/api/v1/imports", data=body, headers={**headers, "Content-Type": content_type}
        )
        assert response.status in (400, 422), (body, response.status, await response.text())
        assert response.content_type == "application/problem+json", body
