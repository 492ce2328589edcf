"""The reports page in the browser: a manager reads the five reports, picks a period preset and
downloads the XLSX (it opens in openpyxl and holds the report); operators are refused; the charts
and the files come from shared/reports like the API's."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from openpyxl import load_workbook

from shared.demo import load_demo
from shared.i18n import get_translator
from shared.reports.periods import local_today, preset_range
from tests.reports.dataset import build_dataset
from tests.web.conftest import SCREENSHOTS, Desk, assert_accessible, screenshot

ru = get_translator("ru")
Q1 = "from=2026-01-01&to=2026-03-31"


async def test_a_manager_reads_a_report_and_downloads_the_xlsx(desk: Desk, signed_in, tmp_path: Path) -> None:
    async with desk.sessions() as session:
        await build_dataset(session)
        await session.commit()
    page = await signed_in("manager")
    await page.goto(desk.url + f"/reports?report=satisfaction&{Q1}")
    await page.get_by_role("heading", name=ru("reports.title.satisfaction"), level=2).wait_for()
    table = page.locator("table.report-table")
    assert await table.locator("thead th").first.inner_text() == ru("reports.col.reason")
    total = table.locator("tr.total")
    assert (await total.locator("th").inner_text()) == ru("reports.total")
    # Shares in the locale's format ("33,3 %"), counts as numbers.
    assert "%" in await total.inner_text()
    async with page.expect_download() as waiting:
        await page.get_by_role("link", name=ru("web.reports.format.xlsx")).click()
    download = await waiting.value
    assert download.suggested_filename == "satisfaction_2026-01-01_2026-03-31.xlsx"
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    workbook = load_workbook(saved)
    sheet = workbook.worksheets[0]
    assert sheet["A1"].value == ru("reports.col.reason")
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[-1][0] == ru("reports.total") and rows[-1][1] == 6  # six decisions in Jan-Mar
    # The chart on the page is the report's SVG.
    chart = page.locator("figure.chart img")
    src = await chart.get_attribute("src")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with aiohttp.ClientSession(cookies=cookies) as client:
        async with client.get(desk.url + src) as response:
            assert response.status == 200 and response.content_type == "image/svg+xml"
        for fmt, kind in (("csv", "text/csv"), ("png", "image/png"), ("svg", "image/svg+xml")):
            href = await page.get_by_role("link", name=ru(f"web.reports.format.{fmt}")).get_attribute("href")
            async with client.get(desk.url + href) as response:
                assert response.status == 200 and response.content_type == kind, fmt
                assert "attachment" in response.headers["Content-Disposition"]


async def test_presets_tabs_and_filters_keep_the_state_in_the_url(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        data = await build_dataset(session)
        await session.commit()
    page = await signed_in("manager")
    await page.goto(desk.url + "/reports")
    # No period given: the last 12 months, as the API.
    today = local_today(desk.settings.tz)
    date_from, date_to = preset_range("last_12_months", today)
    assert await page.get_by_label(ru("web.reports.from"), exact=True).input_value() == date_from.isoformat()
    assert await page.get_by_label(ru("web.reports.to"), exact=True).input_value() == date_to.isoformat()
    preset = page.get_by_role("link", name=ru("web.reports.preset.last_12_months"))
    assert await preset.get_attribute("aria-current") == "true"
    await page.get_by_role("link", name=ru("web.reports.preset.this_year")).click()
    await page.wait_for_url("**preset=this_year**")
    assert await page.get_by_label(ru("web.reports.from"), exact=True).input_value() == f"{today.year}-01-01"
    # A filter and a custom period, then another report: the filter and period stay.
    await page.get_by_label(ru("web.reports.from"), exact=True).fill("2026-01-01")
    await page.get_by_label(ru("web.reports.to"), exact=True).fill("2026-03-31")
    await page.get_by_text(ru("web.reports.filters"), exact=True).click()  # the filters fold open
    await page.get_by_label(ru("web.reports.filter.channel"), exact=True).select_option("phone")
    await page.get_by_role("button", name=ru("web.reports.show")).last.click()
    await page.wait_for_url("**channel=phone**")
    await page.get_by_role("link", name=ru("reports.title.structure")).click()
    await page.wait_for_url("**report=structure**")
    assert "channel=phone" in page.url and "from=2026-01-01" in page.url
    total = page.locator("table.report-table").first.locator("tr.total td").first
    assert await total.inner_text() == "1"  # one claim by phone in Jan-Mar
    for name in ("dynamics", "response_times", "ratings"):
        await page.get_by_role("link", name=ru(f"reports.title.{name}")).click()
        await page.get_by_role("heading", name=ru(f"reports.title.{name}"), level=2).wait_for()
    assert data is not None


async def test_bad_parameters_are_told_not_crashed(desk: Desk, signed_in) -> None:
    page = await signed_in("manager")
    response = await page.goto(desk.url + "/reports?from=2026-03-01&to=2026-01-01")
    assert response is not None and response.status == 422
    await page.get_by_role("alert").wait_for()
    response = await page.goto(desk.url + "/reports?report=nonsense&granularity=year&reason_id=abc")
    assert response is not None and response.status == 422
    assert ru("web.reports.field.reason_id") in await page.get_by_role("alert").inner_text()


async def test_operators_are_refused_the_reports(desk: Desk, signed_in) -> None:
    page = await signed_in("operator")
    response = await page.goto(desk.url + "/reports")
    assert response is not None and response.status == 403
    assert await page.get_by_role("link", name=ru("web.reports.nav")).count() == 0
    response = await page.goto(desk.url + "/reports/download?format=xlsx")
    assert response is not None and response.status == 403


async def test_reports_page_screenshots_and_accessibility(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        await load_demo(session, claims=300, now=datetime.now(UTC))
        await session.commit()
    page = await signed_in("manager")
    await page.goto(desk.url + "/reports")
    await page.locator("figure.chart img").evaluate("img => img.decode()")
    await assert_accessible(page)
    await screenshot(page, "reports")
    await page.screenshot(path=str(SCREENSHOTS / "reports-full-1366.png"), full_page=True)
    await page.goto(desk.url + "/reports?report=satisfaction&preset=this_year")
    await page.locator("figure.chart img").evaluate("img => img.decode()")
    await assert_accessible(page)
    await screenshot(page, "reports-satisfaction")
