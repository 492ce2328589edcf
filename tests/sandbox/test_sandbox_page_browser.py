"""The sandbox page in a browser (Playwright driving Debian's chromium): a customer writes in their
chat, a bot mirrors it into a topic of the staff group shown beside it, a staff member takes the
claim with a button and answers from the topic, and the customer gets the answer. Hostile names and
texts stay text. Screenshots go to var/screenshots/sandbox/ (git-ignored)."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.sandbox import BotApiEmulator
from bot.sandbox.files import tiny_png
from tests.sandbox.conftest import polling

playwright_api = pytest.importorskip("playwright.async_api", reason="Playwright for Python is not installed")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "sandbox"
STAFF = -1001000000001
HOSTILE_NAME = 'Vera <img src=x onerror="window.pwned=1">'
HOSTILE_TEXT = "The kettle leaks <script>window.pwned=2</script>"


def mirror_bot() -> Dispatcher:
    """What the staff-in-Telegram feature will do, in miniature: a topic per customer with a card,
    the customer's messages copied into it, staff answers from it sent back to the customer."""
    dp = Dispatcher()
    topic_of: dict[int, int] = {}
    customer_of: dict[int, int] = {}
    take = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="take")]])

    @dp.message(F.chat.type == "private")
    async def from_customer(message: Message, bot: Bot) -> None:
        assert message.from_user is not None
        customer = message.from_user
        if customer.id not in topic_of:
            topic = await bot.create_forum_topic(STAFF, f"2026-000001 · new · {customer.full_name}")
            topic_of[customer.id] = topic.message_thread_id
            customer_of[topic.message_thread_id] = customer.id
            await bot.send_message(
                STAFF,
                f"<b>Claim 2026-000001</b>\nCustomer: {html.escape(customer.full_name)}",
                parse_mode="HTML",
                message_thread_id=topic.message_thread_id,
                reply_markup=take,
            )
        await bot.copy_message(STAFF, message.chat.id, message.message_id, message_thread_id=topic_of[customer.id])
        await message.answer("Thank you, we are on it.")

    @dp.message(F.chat.type == "supergroup", F.is_topic_message, F.text)
    async def from_staff(message: Message, bot: Bot) -> None:
        assert message.from_user is not None and message.text is not None
        customer = customer_of.get(message.message_thread_id or 0)
        if customer is not None and not message.from_user.is_bot:
            await bot.send_message(customer, f"{message.from_user.first_name}: {message.text}")

    @dp.callback_query(F.data == "take")
    async def taken(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.answer(f"Taken by {query.from_user.first_name}")
        await query.message.edit_text(f"{query.message.text}\nTaken by {query.from_user.first_name}")

    return dp


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    if not HAVE_CHROMIUM:
        pytest.skip("browser tests: /usr/bin/chromium is missing (apt-get install chromium)")
    async with playwright_api.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def test_the_whole_loop_on_the_page(emu: BotApiEmulator, bot: Bot, browser: object) -> None:
    staff = emu.supergroup(STAFF, "Staff")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    async with polling(mirror_bot(), bot, emu):
        await page.goto(f"{emu.base_url}/sandbox/")
        await page.fill("#uid", "1001")
        await page.fill("#uname", HOSTILE_NAME)
        await page.click("#useuser")
        await page.fill("#text", HOSTILE_TEXT)
        await page.press("#text", "Enter")
        await page.set_input_files(
            "#file", files=[{"name": "leak.png", "mimeType": "image/png", "buffer": tiny_png(64, 48)}]
        )
        topic = await staff.wait_for_topic(lambda t: t.name.endswith(HOSTILE_NAME), timeout=10)
        await staff.wait_for_messages(3, timeout=10)  # the card and two copies
        await page.click("#topics button:nth-child(2)")
        await page.get_by_role("button", name="Take").click()
        await page.wait_for_selector("#toast:has-text('Taken by Anna')")
        await page.fill("#gtext", "Hello! Please send a photo of the label <b>too</b>.")
        await page.press("#gtext", "Enter")
        await page.wait_for_selector("#log >> text=Anna: Hello! Please send a photo of the label <b>too</b>.")
        await page.wait_for_selector("#glog >> text=Taken by Anna")
        await page.wait_for_selector("#glog img.photo")
        await page.screenshot(path=str(SCREENSHOTS / "staff-loop-1366x768.png"))
        await page.set_viewport_size({"width": 768, "height": 1024})
        await page.screenshot(path=str(SCREENSHOTS / "staff-loop-768x1024.png"), full_page=True)

        # The page shows what happened, as text: the hostile name and text never became markup.
        assert await page.evaluate("window.pwned") is None
        assert await page.locator('img[src="x"]').count() == 0
        assert await page.locator("#topics").inner_text() == f"General\n2026-000001 · new · {HOSTILE_NAME}"
        assert HOSTILE_TEXT in await page.locator("#glog").inner_text()
        assert HOSTILE_TEXT in await page.locator("#log").inner_text()
        # Closing the topic from the page posts the service message, as in Telegram.
        await page.click("#tclose")
        await page.wait_for_selector("#glog .service >> text=Anna closed the topic")
        assert staff.topic(topic.thread_id).closed
    assert errors == []
    texts = [m.content for m in emu.sent(1001)]
    assert texts[-1] == "Anna: Hello! Please send a photo of the label <b>too</b>."
    assert [m["text"] for m in staff.messages(topic) if m["from"]["id"] == 501 and "text" in m] == [
        "Hello! Please send a photo of the label <b>too</b>."
    ]
