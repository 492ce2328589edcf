"""Screenshots of the customer's conversation in the sandbox chat page (the emulator's /sandbox/),
driven by Playwright in Debian's Chromium as tests/web does: the whole wizard, the review, My
claims and a claim's history, into var/screenshots/bot/ (git-ignored). Without /usr/bin/chromium
the test is skipped with one line saying so."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.actors import Actor
from shared.claims.service import transition
from shared.i18n import get_translator
from shared.staff.models import StaffUser
from tests.bot.conftest import claims_of, eventually, running_bot
from tests.delivery.conftest import running_worker, staff_reply
from tests.factories import make_staff

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "bot"
USER_ID = 5201

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="browser tests: /usr/bin/chromium is missing (apt-get install chromium)"
)


async def shot(page: Any, name: str) -> Path:
    """The customer's pane, scrolled to its latest message."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.wait_for_timeout(400)  # the page polls the emulator: let the last change arrive
    await page.evaluate("document.getElementById('log').scrollTop = 1e9")
    path = SCREENSHOTS / f"{name}.png"
    await page.locator("#customer").screenshot(path=str(path))
    return path


async def click(page: Any, label: str) -> None:
    """Press the (last) button with this label in the chat."""
    await page.locator("#log button", has_text=label).last.click()


async def say(page: Any, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_screens_of_the_wizard_review_my_claims_and_history(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, lang: str
) -> None:
    t = get_translator(lang)
    async with running_worker(db, emu, database_url), running_bot(emu, db), async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1500, "height": 1300})
        await page.goto(emu.base_url + "/sandbox/")
        await page.fill("#uid", str(USER_ID))
        await page.fill("#uname", "Вера" if lang == "ru" else "Vera")
        await page.select_option("#ulang", lang)
        await page.click("#useuser")
        log = page.locator("#log")

        async def expect(text: str) -> None:
            await log.get_by_text(text, exact=False).last.wait_for(timeout=5000)

        await say(page, "/start")
        await expect(t("bot.menu.new"))
        await click(page, t("bot.menu.new"))
        await expect(t("bot.intake.ask_description"))
        await say(page, "Чайник протекает после двух недель" if lang == "ru" else "The kettle leaks after two weeks")
        await expect(t("bot.intake.ask_files"))
        await click(page, t("bot.intake.done"))
        await expect(t("bot.intake.ask_order"))
        await say(page, "A-1042")
        await expect(t("bot.intake.ask_remedy"))
        await click(page, t("remedy.refund"))
        await expect(t("bot.intake.ask_amount", example="")[:20])
        await say(page, "3 490" if lang == "ru" else "3,490")
        await expect(t("bot.intake.ask_phone"))
        await say(page, "+7 912 345-67-89")
        await expect(t("bot.intake.summary_title").replace("<b>", "").replace("</b>", ""))
        await shot(page, f"{lang}-1-wizard")
        await page.evaluate("document.getElementById('log').scrollTop = 0")
        await page.locator("#customer").screenshot(path=str(SCREENSHOTS / f"{lang}-0-wizard-start.png"))
        await page.evaluate("document.getElementById('log').scrollTop = 1e9")
        await shot(page, f"{lang}-2-review")
        await click(page, t("bot.intake.submit"))
        claims = await eventually(db, claims_of, lambda c: len(c) == 1)
        claim = claims[0]
        await expect(claim.number)
        await shot(page, f"{lang}-3-registered")

        # Staff take it into work and answer twice; the worker delivers it all.
        async with db() as session, session.begin():
            staff: StaffUser = await make_staff(session)
            actor = Actor.staff(staff.id)
            await transition(session, claim_id=claim.id, to="in_progress", actor=actor)
        for text in (
            ("Проверяем на складе, ответим завтра." if lang == "ru" else "We are checking with the warehouse."),
            ("Возврат 3 490 ₽ оформлен." if lang == "ru" else "The refund is on its way."),
        ):
            await staff_reply(db, claim, actor, text)
        await expect("3 490 ₽" if lang == "ru" else "The refund is on its way.")
        await shot(page, f"{lang}-4-staff-answers")

        await say(page, "/claims")
        await expect(t("bot.claims.title", total=1).replace("<b>", "").replace("</b>", ""))
        await shot(page, f"{lang}-5-my-claims")
        await click(page, t("bot.claims.button", number=claim.number, status=t("bot.status.in_progress")))
        await click(page, t("bot.claims.history"))
        await expect(t("bot.history.title", number=claim.number).replace("<b>", "").replace("</b>", ""))
        await shot(page, f"{lang}-6-history")
        await browser.close()
    assert sorted(p.name for p in SCREENSHOTS.glob(f"{lang}-*.png"))[-1] == f"{lang}-6-history.png"
