"""Undelivered messages (operators and up): what the desk could not deliver to customers (a blocked
bot, a chat Telegram does not know, a message Telegram refused, temporary trouble that outlasted
the retries), with the claim, the customer, the text, when and why in words, and a resend button
where resending can work (the rule lives in shared/outbox/undelivered.py: after temporary trouble
always; to a customer who blocked the bot or whose chat is unknown only once they have written
since; never for a message Telegram refused as such)."""

from __future__ import annotations

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.refusals import refusal_status, refusal_text
from backoffice.web.render import is_fragment_for, render, see_other
from backoffice.web.routes import WebRoute
from shared.enums import Role
from shared.errors import DomainError
from shared.outbox.undelivered import list_undelivered, resend_message

MAX_ID = 2**63 - 1


async def _page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    c = wctx(request)
    page = await list_undelivered(c.session)
    context = {"page": page, "error": error, "resent": request.query.get("resent") == "1"}
    if is_fragment_for(request, "undelivered-body"):
        return render(request, "undelivered_body.html", context, status=status)
    return render(request, "undelivered.html", context, status=status)


async def undelivered_page(request: web.Request) -> web.Response:
    return await _page(request)


async def resend(request: web.Request) -> web.Response:
    c = wctx(request)
    raw = request.match_info["message_id"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise web.HTTPNotFound()
    try:
        await resend_message(c.session, message_id=int(raw), actor=c.actor)
    except DomainError as exc:
        return await _page(request, error=refusal_text(c.t, exc), status=refusal_status(exc))
    return see_other(request, "/undelivered?resent=1")


routes = [
    WebRoute("GET", "/undelivered", undelivered_page, role=Role.OPERATOR),
    WebRoute("POST", "/undelivered/{message_id}/resend", resend, role=Role.OPERATOR),
]
