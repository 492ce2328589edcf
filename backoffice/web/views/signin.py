"""Sign-in and sign-out of the staff pages, on the server-side sessions the API's login opens too
(shared/staff/accounts.py), with the API's sign-in throttle."""

from __future__ import annotations

from aiohttp import web

from backoffice.auth import SESSION_COOKIE, client_address, sign_in
from backoffice.keys import throttle_key
from backoffice.web import csrf
from backoffice.web.context import wctx
from backoffice.web.render import local_path, render, see_other
from backoffice.web.routes import WebRoute
from shared.staff.accounts import SESSION_TTL, close_session, open_session
from shared.staff.service import has_staff_users

MAX_LOGIN = 64
MAX_PASSWORD = 1024


async def _form(
    request: web.Request, *, next_path: str, login: str = "", error: str | None = None, status: int = 200
) -> web.Response:
    c = wctx(request)
    token = request.cookies.get(csrf.SIGNIN_COOKIE) or csrf.new_token()
    context = {
        "next": next_path,
        "login": login,
        "error": error,
        "signin_token": token,
        "first_run": not await has_staff_users(c.session),
    }
    response = render(request, "signin.html", context, status=status)
    # The form's own CSRF cookie (no session yet): SameSite=Strict, only sent back to /signin.
    response.set_cookie(
        csrf.SIGNIN_COOKIE, token, httponly=True, samesite="Strict", path="/signin", secure=_secure(request)
    )
    return response


def _secure(request: web.Request) -> bool:
    return (wctx(request).settings.backoffice_public_url or "").startswith("https://")


async def signin_page(request: web.Request) -> web.Response:
    c = wctx(request)
    if c.user is not None:
        return see_other(request, local_path(request.query.get("next")))
    return await _form(request, next_path=local_path(request.query.get("next")))


async def signin(request: web.Request) -> web.Response:
    c = wctx(request)
    form = await request.post()
    login = str(form.get("login", "")).strip()[:MAX_LOGIN]
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    target = local_path(str(form.get("next", "")) or request.query.get("next"))
    if not login or not password:
        return await _form(request, next_path=target, login=login, error=c.t("web.signin.missing"), status=422)
    address = client_address(request)
    outcome = await sign_in(c.session, request.app[throttle_key], login=login, password=password, address=address)
    if outcome.wait is not None:
        return await _form(
            request, next_path=target, login=login, error=c.t("web.signin.throttled", seconds=outcome.wait), status=429
        )
    user = outcome.user
    if user is None:
        return await _form(request, next_path=target, login=login, error=c.t("web.signin.failed"), status=401)
    session_id, _ = await open_session(
        c.session, user=user, remote_addr=address, replaces=request.cookies.get(SESSION_COOKIE)
    )
    response = see_other(request, target)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
        path="/",
    )
    response.del_cookie(csrf.SIGNIN_COOKIE, path="/signin")
    return response


async def signout(request: web.Request) -> web.Response:
    c = wctx(request)
    if c.session_id:
        await close_session(c.session, session_id=c.session_id)
    response = see_other(request, "/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    if c.htmx:
        response = web.Response(status=200, headers={"HX-Redirect": "/signin"})
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    WebRoute("GET", "/signin", signin_page, role=None),
    WebRoute("POST", "/signin", signin, role=None, csrf="signin"),
    WebRoute("POST", "/signout", signout),
]
