"""The signed-in staff member's own settings (`/profile`, linked from their name in the header):
the pages' language (the header's switch posts to /preferences/language too), their Telegram
account (a one-time code to send to the bot, shown once; unlinking in one click) and their
personal alerts in Telegram. Everything through shared/staff services; every form has its CSRF
token (checked by the web middleware)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.render import render, see_other
from backoffice.web.routes import WebRoute
from shared.staff.accounts import set_own_alerts
from shared.staff.linking import DEEP_LINK_PREFIX, LinkCode, issue_link_code, pending_code_expiry, unlink_telegram

DONE = ("alerts", "unlinked")


async def _page(request: web.Request, *, code: LinkCode | None = None) -> web.Response:
    c = wctx(request)
    assert c.user is not None
    bot = c.settings.bot_username
    done = request.query.get("done")
    context: dict[str, Any] = {
        "me": c.user,
        "code": code,
        "bot_username": bot,
        "deep_link": f"https://t.me/{bot}?start={DEEP_LINK_PREFIX}{code.code}" if code and bot else None,
        # A code made earlier and still live (the page was reloaded): it is not shown again.
        "pending_until": None if code else await pending_code_expiry(c.session, user_id=c.user.id),
        "done": done if done in DONE else None,
    }
    return render(request, "profile.html", context)


async def profile_page(request: web.Request) -> web.Response:
    return await _page(request)


async def new_link_code(request: web.Request) -> web.Response:
    """A fresh code, shown on the page this answer renders (never in a URL, never stored plain)."""
    c = wctx(request)
    assert c.user is not None
    code = await issue_link_code(c.session, user=c.user)
    return await _page(request, code=code)


async def unlink(request: web.Request) -> web.Response:
    c = wctx(request)
    assert c.user is not None
    await unlink_telegram(c.session, user_id=c.user.id, actor=c.actor)
    return see_other(request, "/profile?done=unlinked")


async def save_alerts(request: web.Request) -> web.Response:
    c = wctx(request)
    assert c.user is not None
    form = await request.post()
    await set_own_alerts(
        c.session,
        user=c.user,
        assigned=form.get("alert_assigned") == "on",
        customer_wrote=form.get("alert_customer_wrote") == "on",
        overdue=form.get("alert_overdue") == "on",
    )
    return see_other(request, "/profile?done=alerts")


routes = [
    WebRoute("GET", "/profile", profile_page),
    WebRoute("POST", "/profile/telegram/code", new_link_code),
    WebRoute("POST", "/profile/telegram/unlink", unlink),
    WebRoute("POST", "/profile/alerts", save_alerts),
]
