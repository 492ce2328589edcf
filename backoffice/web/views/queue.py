"""The queue: the claims list at `/` (and the first-run page of an empty desk)."""

from __future__ import annotations

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.render import render, see_other, signin_url
from backoffice.web.routes import WebRoute
from shared.claims.filters import ClaimFilters
from shared.claims.queries import list_claims
from shared.staff.service import has_staff_users


async def home(request: web.Request) -> web.Response:
    """An empty desk explains how to create the first admin; else the queue (signed in)."""
    c = wctx(request)
    if c.user is None:
        if not await has_staff_users(c.session):
            return render(request, "first_run.html", {})
        return see_other(request, signin_url(request.path_qs))
    page = await list_claims(c.session, filters=ClaimFilters(), tz=c.settings.tz)
    return render(request, "queue.html", {"page": page})


routes = [WebRoute("GET", "/", home, role=None)]
