"""Security headers (issue 13, fix 7): nosniff and Referrer-Policy on every answer; a CSP with
frame-ancestors 'none' on every HTML page, the API docs included, which still work under it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from backoffice.api import all_routes
from backoffice.app import create_app
from shared.runtime import Database
from tests.backoffice.conftest import PASSWORD, Api, make_settings
from tests.factories import make_claim

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def assert_every_answer(response: object, what: str) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "same-origin", what


async def test_every_answer_says_nosniff_and_same_origin_referrer(api: Api) -> None:
    async with api.sessions() as session:
        await make_claim(session)
        await session.commit()
    answers = [
        ("GET", "/healthz", None, 200),
        ("GET", "/readyz", None, 200),
        ("GET", "/api/openapi.json", None, 200),
        ("GET", "/api/docs/static/swagger-ui-bundle.js", None, 200),  # a static file
        ("GET", "/api/docs/init.js", None, 200),
        ("GET", "/api/v1/claims", "operator", 200),
        ("GET", "/api/v1/claims/export?format=csv", "manager", 200),  # streamed from its handler
        ("GET", "/metrics", "admin", 200),
        ("GET", "/api/v1/claims", None, 401),
        ("GET", "/api/v1/claims/999999", "admin", 404),
        ("GET", "/nowhere", None, 404),
        ("PUT", "/api/v1/claims", "admin", 405),
    ]
    for method, path, caller, status in answers:
        response = await api.call(method, path, as_=caller)
        await response.read()
        assert response.status == status, (path, response.status)
        assert_every_answer(response, path)
        assert "Content-Security-Policy" not in response.headers or response.content_type == "text/html"
    login = await api.call("POST", "/api/v1/auth/login", as_=None, json={"login": "admin", "password": PASSWORD})
    assert login.status == 200
    assert_every_answer(login, "sign-in")


async def test_html_pages_have_a_csp_that_forbids_framing(api: Api) -> None:
    page = await api.call("GET", "/api/docs", as_=None)
    html = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert_every_answer(page, "/api/docs")
    policy = {
        part.split()[0]: part.split()[1:] for part in page.headers["Content-Security-Policy"].split(";") if part.strip()
    }
    assert policy["frame-ancestors"] == ["'none'"] and policy["script-src"] == ["'self'"]
    assert page.headers["X-Frame-Options"] == "DENY"
    # No inline script (the policy would block it): every script is a file of the own origin.
    assert html.count("<script") == html.count('<script src="/api/docs/')


async def test_a_page_with_its_own_csp_keeps_it(db, engine, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The staff web UI sets the policy its pages need; the back-office does not overwrite it."""
    app = create_app(make_settings(database_url, tmp_path), Database(url=database_url, engine=engine, sessions=db))

    async def own_page(request: web.Request) -> web.Response:
        return web.Response(
            text="<p>ok</p>", content_type="text/html", headers={"Content-Security-Policy": "default-src 'none'"}
        )

    app.router.add_get("/own", own_page)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/own")
        assert response.headers["Content-Security-Policy"] == "default-src 'none'"
        assert_every_answer(response, "/own")


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}")
async def test_the_docs_page_works_under_its_csp(api: Api) -> None:
    """In a real browser: Swagger UI loads its script from a file, lists every operation, and the
    policy blocks nothing it needs (no CSP violation reported)."""
    playwright_api = pytest.importorskip("playwright.async_api")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.add_init_script(
                "window.__violations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI))"
            )
            await page.goto(str(api.client.make_url("/api/docs")))
            await page.wait_for_selector(".opblock", timeout=30_000)
            operations = await page.locator(".opblock").count()
            await page.screenshot(path=str(SCREENSHOTS / "api-docs.png"))
            assert operations == len(all_routes()), operations
            # "Try it out" signs in from the docs page: a same-origin JSON POST passes the API's
            # cross-site checks, and the cookie it sets serves the next call.
            login = page.locator("#operations-auth-login")
            await login.locator(".opblock-summary").click()
            await login.get_by_role("button", name="Try it out").click()
            await login.locator("textarea.body-param__text").fill(f'{{"login": "admin", "password": "{PASSWORD}"}}')
            await login.get_by_role("button", name="Execute").click()
            await login.locator(".live-responses-table tbody td.response-col_status").first.wait_for()
            assert (
                await login.locator(".live-responses-table tbody td.response-col_status").first.inner_text()
            ).strip() == "200"
            me = page.locator("#operations-auth-me")
            await me.locator(".opblock-summary").click()
            await me.get_by_role("button", name="Try it out").click()
            await me.get_by_role("button", name="Execute").click()
            status = me.locator(".live-responses-table tbody td.response-col_status").first
            await status.wait_for()
            assert (await status.inner_text()).strip() == "200"
            await me.scroll_into_view_if_needed()
            await page.screenshot(path=str(SCREENSHOTS / "api-docs-try-it-out.png"))
            violations = await page.evaluate("window.__violations")
            assert violations == [], violations
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            await browser.close()
