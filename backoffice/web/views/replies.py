"""Saved replies (managers): the texts the card's reply box offers, per customer language; add,
edit, retire. Operators save new ones from the card's reply box."""

from __future__ import annotations

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.errors import error_text
from backoffice.web.render import render, see_other
from backoffice.web.routes import WebRoute
from backoffice.web.views.claim import claim_path_id
from shared.enums import Role
from shared.errors import DomainError
from shared.replies.service import create_reply_template, list_reply_templates, update_reply_template
from shared.settings import LANGUAGES


async def _page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    c = wctx(request)
    templates = await list_reply_templates(c.session, include_inactive=True)
    return render(
        request, "replies.html", {"templates": templates, "languages": LANGUAGES, "error": error}, status=status
    )


async def replies_page(request: web.Request) -> web.Response:
    return await _page(request)


async def save_reply(request: web.Request) -> web.Response:
    c = wctx(request)
    form = await request.post()
    values = {
        "language": str(form.get("language", "")),
        "title": str(form.get("title", "")),
        "body": str(form.get("body", "")),
    }
    try:
        if "template_id" in request.match_info:
            await update_reply_template(
                c.session,
                template_id=claim_path_id(request, "template_id"),
                active=form.get("active") == "1",
                **values,
            )
        else:
            await create_reply_template(c.session, actor=c.actor, **values)
    except DomainError as exc:
        await c.rollback()
        return await _page(request, error=error_text(c.t, exc), status=422)
    return see_other(request, "/replies")


routes = [
    WebRoute("GET", "/replies", replies_page, role=Role.MANAGER),
    WebRoute("POST", "/replies", save_reply, role=Role.MANAGER),
    WebRoute("POST", "/replies/{template_id}", save_reply, role=Role.MANAGER),
]
