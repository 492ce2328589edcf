"""Browser tests of the staff pages: the real back-office app on a real port over the test
database, driven by Playwright for Python in Debian's Chromium (/usr/bin/chromium; Playwright never
downloads a browser here). Without /usr/bin/chromium every test of this folder is skipped with one
line saying so (`apt-get install chromium`; .ci/run installs it).

Fixtures: `desk` (the app, its URL and a user per role), `browser`, `signed_in(role)` (a page of a
signed-in user), `screenshot(page, name)` (PNGs at 1366x768 and 768x1024 under var/screenshots/web,
git-ignored) and `assert_accessible(page)` (axe-core: no serious or critical violation).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backoffice.app import create_app
from backoffice.auth import SESSION_COOKIE, LoginThrottle
from shared.enums import Role
from shared.runtime import Database
from shared.settings import Settings
from shared.staff.accounts import open_session
from shared.staff.service import create_user

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots" / "web"
SIZES = ((1366, 768), (768, 1024))
PASSWORD = "correct horse battery"
STAFF = ((Role.OPERATOR, "Ольга Смирнова"), (Role.MANAGER, "Мария Кузнецова"), (Role.ADMIN, "Алексей Попов"))

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@pytest.fixture(autouse=True)
def _needs_chromium() -> None:
    if not HAVE_CHROMIUM:
        pytest.skip("browser tests: /usr/bin/chromium is missing (apt-get install chromium)")


@dataclass
class Desk:
    url: str
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    user_ids: dict[str, int] = field(default_factory=dict)
    app: Any = None


def web_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "CLAIMDESK_DATA_DIR": str(data_dir),
        "DEFAULT_LANGUAGE": "ru",
        "TIMEZONE": "Europe/Moscow",
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def desk_settings_extra() -> dict[str, Any]:
    return {}


@pytest.fixture
def with_users() -> bool:
    """Override with False for a desk without staff (the first-run page)."""
    return True


@pytest.fixture
async def desk(
    db: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
    desk_settings_extra: dict[str, Any],
    with_users: bool,
) -> AsyncIterator[Desk]:
    settings = web_settings(database_url, tmp_path, **desk_settings_extra)
    app = create_app(settings, Database(url=database_url, engine=engine, sessions=db), throttle=LoginThrottle())
    desk = Desk(url="", settings=settings, sessions=db, app=app)
    if with_users:
        async with db() as session:
            for role, name in STAFF:
                user = await create_user(
                    session, login=role.value, password=PASSWORD, role=role, full_name=name, language="ru"
                )
                desk.user_ids[role.value] = user.id
            await session.commit()
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    desk.url = str(server.make_url("")).rstrip("/")
    try:
        yield desk
    finally:
        await server.close()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if not HAVE_CHROMIUM:  # a session fixture is set up before the autouse check above
        pytest.skip("browser tests: /usr/bin/chromium is missing (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def session_cookie(desk: Desk, login: str) -> dict[str, Any]:
    """A sign-in session opened through the service (what the sign-in form does), as a cookie."""
    async with desk.sessions() as session:
        user_id = desk.user_ids[login]
        from shared.staff.models import StaffUser

        user = await session.get_one(StaffUser, user_id)
        session_id, _ = await open_session(session, user=user, remote_addr="127.0.0.1")
        await session.commit()
    return {"name": SESSION_COOKIE, "value": session_id, "url": desk.url + "/", "httpOnly": True, "sameSite": "Lax"}


SignedIn = Callable[..., Awaitable[Any]]


@pytest.fixture
async def signed_in(desk: Desk, browser: Any) -> AsyncIterator[SignedIn]:
    """`await signed_in("operator")` -> a Playwright page of that user (a fresh browser context)."""
    contexts: list[Any] = []

    async def open_page(role: str = "operator", *, width: int = 1366, height: int = 768) -> Any:
        context = await browser.new_context(viewport={"width": width, "height": height}, locale="ru-RU")
        contexts.append(context)
        await context.add_cookies([await session_cookie(desk, role)])
        page = await context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        await context.close()


@pytest.fixture
async def anonymous(desk: Desk, browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale="ru-RU")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    yield page
    await context.close()


async def screenshot(page: Any, name: str) -> list[Path]:
    """The page as an operator sees it, at 1366x768 and 768x1024 (the viewport is restored after)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    paths = []
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        await page.wait_for_timeout(150)  # let the layout settle after the resize
        path = SCREENSHOTS / f"{name}-{width}x{height}.png"
        await page.screenshot(path=str(path))
        paths.append(path)
    if original:
        await page.set_viewport_size(original)
    return paths


async def assert_accessible(page: Any) -> None:
    """axe-core (axe-playwright-python's pinned copy) finds no serious or critical violation."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    detail = "\n".join(f"{v['impact']}: {v['id']}: {v['help']} -> {[n['target'] for n in v['nodes']][:5]}" for v in bad)
    assert not bad, f"accessibility violations on {page.url}:\n{detail}"


@pytest.fixture
async def emu() -> AsyncIterator[Any]:
    """The Bot API emulator as `claimdesk run` starts it without BOT_TOKEN (the sandbox): the desk's
    settings point at it through SANDBOX_PORT (`desk_settings_extra` of the tests that use it)."""
    from bot.sandbox import BotApiEmulator
    from shared.settings import SANDBOX_TOKEN

    emulator = BotApiEmulator(token=SANDBOX_TOKEN, webhook_retry_delay=0.2, fault_hold=2.0)
    await emulator.start()
    yield emulator
    await emulator.stop()
