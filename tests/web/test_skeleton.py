"""The skeleton of the staff pages: first run, sign-in and back where the user was, sign-out, the
language switch, CSRF, security headers."""

from __future__ import annotations

import aiohttp
import pytest

from shared.i18n import get_translator
from tests.web.conftest import PASSWORD, Desk, assert_accessible, screenshot

ru = get_translator("ru")
en = get_translator("en")


@pytest.mark.parametrize("with_users", [False])
async def test_first_run_page_on_an_empty_desk(desk: Desk, anonymous) -> None:
    await anonymous.goto(desk.url + "/")
    await anonymous.get_by_role("heading", name=ru("web.first_run.welcome")).wait_for()
    assert "claimdesk users add NAME --role admin" in await anonymous.inner_text("main")
    await assert_accessible(anonymous)


async def test_sign_in_returns_where_the_user_was_and_sign_out(desk: Desk, anonymous) -> None:
    page = anonymous
    await page.goto(desk.url + "/?status=new")
    assert "/signin?next=/%3Fstatus%3Dnew" in page.url or "/signin?next=" in page.url
    await page.get_by_role("heading", name=ru("web.signin.title")).wait_for()
    await assert_accessible(page)
    await screenshot(page, "signin")
    await page.get_by_label(ru("web.signin.login")).fill("operator")
    await page.get_by_label(ru("web.signin.password")).fill("wrong password")
    await page.get_by_role("button", name=ru("web.signin.submit")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.signin.failed")).wait_for()
    await page.get_by_label(ru("web.signin.password")).fill(PASSWORD)
    await page.get_by_role("button", name=ru("web.signin.submit")).click()
    await page.wait_for_url(desk.url + "/?status=new")
    await page.get_by_role("heading", name=ru("web.queue.title")).wait_for()
    # The language switch in the header: the user's own setting, kept for the next visit.
    await page.get_by_role("button", name="EN").click()
    await page.get_by_role("heading", name=en("web.queue.title")).wait_for()
    await page.goto(desk.url + "/")
    await page.get_by_role("heading", name=en("web.queue.title")).wait_for()
    await page.get_by_role("button", name=en("web.signout")).click()
    await page.wait_for_url("**/signin")
    await page.goto(desk.url + "/")
    assert "/signin" in page.url


async def test_an_external_next_is_not_followed(desk: Desk, anonymous) -> None:
    await anonymous.goto(desk.url + "/signin?next=//evil.example/x")
    await anonymous.get_by_label(ru("web.signin.login")).fill("operator")
    await anonymous.get_by_label(ru("web.signin.password")).fill(PASSWORD)
    await anonymous.get_by_role("button", name=ru("web.signin.submit")).click()
    await anonymous.wait_for_url(desk.url + "/")


async def test_a_form_without_its_csrf_token_is_refused(desk: Desk, signed_in) -> None:
    page = await signed_in("operator")
    await page.goto(desk.url + "/")
    # The language form with its token removed, as a forged cross-site form would arrive.
    await page.locator("form.lang input[name=csrf_token]").evaluate("e => e.remove()")
    await page.get_by_role("button", name="EN").click()
    await page.get_by_role("alert").filter(has_text=ru("web.error.csrf")).wait_for()
    # ... and a plain POST without the token or the header, with the session cookie, too.
    cookies = await page.context.cookies()
    jar = {c["name"]: c["value"] for c in cookies}
    async with aiohttp.ClientSession(cookies=jar) as client:
        async with client.post(desk.url + "/preferences/language", data={"language": "en"}) as response:
            assert response.status == 403
        async with client.post(
            desk.url + "/preferences/language", data={"language": "en", "csrf_token": "forged"}
        ) as response:
            assert response.status == 403
    await page.goto(desk.url + "/")
    await page.get_by_role("heading", name=ru("web.queue.title")).wait_for()  # still Russian


async def test_pages_send_the_security_headers(desk: Desk) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.get(desk.url + "/signin") as response:
            assert response.status == 200
            csp = response.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "same-origin"
        async with client.get(desk.url + "/static/js/htmx-2.0.11.min.js") as response:
            assert response.status == 200 and response.headers["X-Content-Type-Options"] == "nosniff"


async def test_an_expired_session_signs_in_again_and_returns_to_the_page(desk: Desk, signed_in) -> None:
    from sqlalchemy import update

    from shared.clock import utcnow
    from shared.staff.models import StaffSession
    from tests.factories import make_claim

    async with desk.sessions() as session:
        claim = await make_claim(session)
        await session.commit()
    page = await signed_in("operator")
    await page.goto(f"{desk.url}/claims/{claim.id}")
    async with desk.sessions() as session:
        await session.execute(update(StaffSession).values(expires_at=utcnow()))
        await session.commit()
    # An htmx form post with the session gone: the browser goes to sign in, then back to the card.
    await page.get_by_label(ru("web.field.priority")).select_option("high")
    await page.get_by_role("button", name=ru("web.card.save")).click()
    await page.wait_for_url(f"**/signin?next=/claims/{claim.id}")
    await page.get_by_label(ru("web.signin.login")).fill("operator")
    await page.get_by_label(ru("web.signin.password")).fill(PASSWORD)
    await page.get_by_role("button", name=ru("web.signin.submit")).click()
    await page.wait_for_url(f"{desk.url}/claims/{claim.id}")
