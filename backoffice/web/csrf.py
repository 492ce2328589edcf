"""CSRF protection of the staff pages.

Signed in, the token is a random value stored on the server-side session row
(`staff_session.csrf_token`, set when the session opens) and written into every form
(`<input name=csrf_token>`) and, for htmx, into an `X-CSRF-Token` header (`hx-headers` on <body>).
An unsafe request of a web route must carry it; another site can neither read it nor guess it.
The sign-in form, before any session exists, is checked the double-submit way: a random cookie
set with the form must come back equal in the form. The JSON API keeps its own rules.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SIGNIN_COOKIE = "claimdesk_signin_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def sent_token(request: web.Request) -> str | None:
    """The token the request carries: the header (htmx), else the form field."""
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.content_type in FORM_TYPES:
        form = await request.post()  # aiohttp keeps the parsed form: the view reads it again
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    return None


def same(expected: str | None, sent: str | None) -> bool:
    return bool(expected) and bool(sent) and hmac.compare_digest(str(expected), str(sent))
