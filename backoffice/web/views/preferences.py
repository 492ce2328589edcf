"""The signed-in user's own settings: the language of the pages (from the header's switch)."""

from __future__ import annotations

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.render import local_path, see_other
from backoffice.web.routes import WebRoute
from shared.staff.accounts import set_own_language


async def change_language(request: web.Request) -> web.Response:
    c = wctx(request)
    form = await request.post()
    assert c.user is not None
    await set_own_language(c.session, user=c.user, language=str(form.get("language", "")))
    return see_other(request, local_path(str(form.get("next", ""))))


routes = [WebRoute("POST", "/preferences/language", change_language)]
