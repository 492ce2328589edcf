"""Rendering a page or an htmx fragment: the common template context, local redirects."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
from aiohttp import web

from backoffice.web.context import WEB, wctx
from backoffice.web.navigation import NAV


def page_context(request: web.Request) -> dict[str, Any]:
    """What every template sees besides its view's values."""
    c = request.get(WEB)
    if c is None:  # a template rendered outside a web route (not expected)
        return {}
    return {
        "t": c.t,
        "fmt": c.fmt,
        "user": c.user,
        "language": c.language,
        "csrf_token": c.csrf_token,
        "htmx": c.htmx,
        "here": request.path_qs,
        "nav": [link for link in NAV if c.has_role(link.role)] if c.user is not None else [],
    }


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, {**page_context(request), **context}, status=status)
    for name, value in wctx(request).headers.items():
        response.headers[name] = value
    return response


def is_fragment_for(request: web.Request, target: str) -> bool:
    """An htmx request that will swap the element `#target` only: its fragment template is enough."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == target


def local_path(value: str | None, default: str = "/") -> str:
    """`value` if it is a path on this site (`/claims/5?x=1`), else `default`: a `next` parameter
    must never send the user to another site (`//evil`, `https://evil`, `/\\evil`)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def see_other(request: web.Request, location: str) -> web.Response:
    """After a form post: the page to show next. htmx follows `HX-Location`-less redirects itself,
    so a plain 303 serves both (the browser, and htmx swapping the page it lands on)."""
    return web.Response(status=303, headers={"Location": location})


def signin_url(next_path: str) -> str:
    return "/signin?next=" + quote(next_path, safe="/")
