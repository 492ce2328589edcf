"""The profile page (`/profile`, the name in the header): a one-time Telegram link code (shown once,
with the instruction and the bot's deep link; single use, 10 minutes, a new one cancels the old),
unlinking in one click, the three alert switches, the language; an admin links and unlinks a
staff member's Telegram id on the users page; forms without their CSRF token are refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, update

from shared.audit.models import DeskEvent
from shared.clock import utcnow
from shared.i18n import get_translator
from shared.staff.linking import LinkOutcome, redeem_link_code
from shared.staff.models import StaffLinkCode, StaffUser
from tests.web.conftest import STAFF, Desk, assert_accessible, screenshot

ru = get_translator("ru")
en = get_translator("en")
OPERATOR_NAME = dict(STAFF)[next(role for role, _ in STAFF if role.value == "operator")]


@pytest.fixture
def desk_settings_extra() -> dict[str, Any]:
    return {"BOT_USERNAME": "claimdesk_demo_bot"}


async def _user(desk: Desk, login: str) -> StaffUser:
    async with desk.sessions() as session:
        return await session.get_one(StaffUser, desk.user_ids[login])


async def _redeem(desk: Desk, code: str, telegram_user_id: int) -> LinkOutcome:
    async with desk.sessions() as session, session.begin():
        return (await redeem_link_code(session, code=code, telegram_user_id=telegram_user_id)).outcome


async def test_a_staff_member_links_telegram_from_the_profile_page(desk: Desk, signed_in) -> None:
    page = await signed_in("operator")
    await page.goto(desk.url + "/")
    await page.get_by_role("link", name=OPERATOR_NAME).click()
    await page.wait_for_url(desk.url + "/profile")
    await page.get_by_text(ru("web.profile.telegram.not_linked")).wait_for()
    await page.get_by_role("button", name=ru("web.profile.telegram.new_code"), exact=True).click()
    code = (await page.locator("#link-code").inner_text()).strip()
    assert len(code) == 8
    instruction = ru("web.profile.telegram.send_to_bot", command=f"/link {code}", bot="@claimdesk_demo_bot")
    await page.get_by_text(instruction).wait_for()
    deep = page.get_by_role("link", name=ru("web.profile.telegram.open_bot"))
    assert await deep.get_attribute("href") == f"https://t.me/claimdesk_demo_bot?start=link-{code}"
    await assert_accessible(page)
    await screenshot(page, "profile")
    # The code is stored as a hash only.
    async with desk.sessions() as session:
        stored = (await session.scalars(select(StaffLinkCode))).all()
    assert len(stored) == 1 and code not in stored[0].code_hash
    # Reloaded, the page does not show the code again, only that one is live.
    await page.goto(desk.url + "/profile")
    assert await page.locator("#link-code").count() == 0
    await page.locator("p.hint", has_text=ru("web.profile.telegram.pending", time="")[:20]).wait_for()
    # The bot redeems it (tests/bot/test_staff_link.py sends it through the emulator): once.
    assert await _redeem(desk, code, 424242) is LinkOutcome.LINKED
    assert await _redeem(desk, code, 424243) is LinkOutcome.USED
    await page.goto(desk.url + "/profile")
    await page.get_by_text(ru("web.profile.telegram.linked", id=424242)).wait_for()
    await screenshot(page, "profile-linked")
    # Unlinking is one click.
    await page.get_by_role("button", name=ru("web.profile.telegram.unlink")).click()
    await page.get_by_role("status").filter(has_text=ru("web.profile.done.unlinked")).wait_for()
    assert (await _user(desk, "operator")).telegram_user_id is None
    async with desk.sessions() as session:
        kinds = [e.kind for e in (await session.scalars(select(DeskEvent).order_by(DeskEvent.id))).all()]
    assert kinds == ["telegram_linked", "telegram_unlinked"]


async def test_a_code_expires_after_ten_minutes_and_a_new_one_cancels_the_old(desk: Desk, signed_in) -> None:
    page = await signed_in("operator")
    await page.goto(desk.url + "/profile")
    button = page.get_by_role("button", name=ru("web.profile.telegram.new_code"), exact=True)
    await button.click()
    first = (await page.locator("#link-code").inner_text()).strip()
    await page.get_by_role("button", name=ru("web.profile.telegram.new_code"), exact=True).click()
    second = (await page.locator("#link-code").inner_text()).strip()
    assert first != second
    assert await _redeem(desk, first, 515151) is LinkOutcome.UNKNOWN
    async with desk.sessions() as session, session.begin():
        (row,) = (await session.scalars(select(StaffLinkCode))).all()
        assert timedelta(minutes=9) < row.expires_at - utcnow() <= timedelta(minutes=10)
        await session.execute(update(StaffLinkCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert await _redeem(desk, second, 515151) is LinkOutcome.EXPIRED
    assert (await _user(desk, "operator")).telegram_user_id is None


async def test_the_alert_switches_and_the_language_are_saved(desk: Desk, signed_in) -> None:
    page = await signed_in("manager")
    await page.goto(desk.url + "/profile")
    await page.get_by_text(ru("web.profile.alerts.need_link")).wait_for()
    await page.get_by_label(ru("web.profile.alerts.customer_wrote")).uncheck()
    await page.get_by_label(ru("web.profile.alerts.overdue")).uncheck()
    await page.get_by_role("button", name=ru("web.profile.alerts.save")).click()
    await page.get_by_role("status").filter(has_text=ru("web.profile.done.alerts")).wait_for()
    manager = await _user(desk, "manager")
    assert (manager.alert_assigned, manager.alert_customer_wrote, manager.alert_overdue) == (True, False, False)
    assert not await page.get_by_label(ru("web.profile.alerts.overdue")).is_checked()
    await page.get_by_label(ru("web.language.label"), exact=True).select_option("en")
    await page.get_by_role("button", name=ru("web.profile.language.save")).click()
    await page.get_by_role("heading", name=en("web.profile.title"), exact=True).wait_for()
    assert (await _user(desk, "manager")).language == "en"


async def test_an_admin_links_and_unlinks_a_staff_members_telegram(desk: Desk, signed_in) -> None:
    page = await signed_in("admin")
    operator_id = desk.user_ids["operator"]
    await page.goto(desk.url + f"/users/{operator_id}")
    field = page.get_by_label(ru("web.admin.users.telegram.id"), exact=True)
    await field.fill("12ab")
    await page.get_by_role("button", name=ru("web.admin.users.telegram.link"), exact=True).click()
    await page.get_by_role("alert").filter(has_text=ru("web.error.invalid.telegram_user_id")).wait_for()
    assert await field.input_value() == "12ab"
    await field.fill("777001")
    await page.get_by_role("button", name=ru("web.admin.users.telegram.link"), exact=True).click()
    await page.get_by_role("status").filter(has_text=ru("web.admin.users.done.linked", name=OPERATOR_NAME)).wait_for()
    assert (await _user(desk, "operator")).telegram_user_id == 777001
    # The same Telegram account for another staff user is refused.
    await page.goto(desk.url + f"/users/{desk.user_ids['manager']}")
    await page.get_by_label(ru("web.admin.users.telegram.id"), exact=True).fill("777001")
    await page.get_by_role("button", name=ru("web.admin.users.telegram.link"), exact=True).click()
    await page.get_by_role("alert").filter(has_text=ru("web.admin.refused.conflict.telegram_user_id")).wait_for()
    assert (await _user(desk, "manager")).telegram_user_id is None
    await assert_accessible(page)
    await page.goto(desk.url + f"/users/{operator_id}")
    await page.get_by_text(ru("web.admin.users.telegram.linked", id=777001)).wait_for()
    await page.get_by_role("button", name=ru("web.admin.users.telegram.unlink")).click()
    await page.get_by_role("status").filter(has_text=ru("web.admin.users.done.unlinked", name=OPERATOR_NAME)).wait_for()
    assert (await _user(desk, "operator")).telegram_user_id is None


async def test_profile_forms_without_their_csrf_token_are_refused(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session, session.begin():
        await session.execute(
            update(StaffUser).where(StaffUser.id == desk.user_ids["operator"]).values(telegram_user_id=606060)
        )
    page = await signed_in("operator")
    await page.goto(desk.url + "/profile")
    await page.locator("form[action='/profile/telegram/unlink'] input[name=csrf_token]").evaluate("e => e.remove()")
    await page.get_by_role("button", name=ru("web.profile.telegram.unlink")).click()
    await page.get_by_text(ru("web.error.csrf")).wait_for()
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with aiohttp.ClientSession(cookies=cookies) as client:
        for path, data in (
            ("/profile/telegram/unlink", {"csrf_token": "forged"}),
            ("/profile/telegram/code", {}),
            ("/profile/alerts", {"csrf_token": "forged"}),
        ):
            async with client.post(desk.url + path, data=data, allow_redirects=False) as response:
                assert response.status == 403, path
    operator = await _user(desk, "operator")
    assert operator.telegram_user_id == 606060 and operator.alert_assigned
    async with desk.sessions() as session:
        assert (await session.scalars(select(StaffLinkCode))).all() == []
