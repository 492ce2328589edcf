"""Sign-in (server-side session cookie), sign-out and who-am-I."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.http import Body, Out, Text, read_body, reply
from backoffice.auth import SESSION_COOKIE, client_address, sign_in
from backoffice.context import ctx
from backoffice.keys import throttle_key
from backoffice.problems import ApiProblem
from shared.enums import Role
from shared.staff.accounts import SESSION_TTL, close_session, open_session


class LoginIn(Body):
    login: Text = Field(min_length=1, max_length=64)
    password: Text = Field(min_length=1, max_length=1024)


class StaffUserOut(Out):
    id: int
    login: str
    full_name: str
    role: Role
    language: str
    active: bool
    employee_id: int | None
    created_at: datetime


class LoginOut(Out):
    user: StaffUserOut
    expires_at: datetime


async def login(request: web.Request) -> web.Response:
    """Sign in with a login and password; sets an HttpOnly, SameSite=Lax session cookie."""
    c = ctx(request)
    body = await read_body(request, LoginIn)
    address = client_address(request)
    outcome = await sign_in(
        c.session, request.app[throttle_key], login=body.login, password=body.password, address=address
    )
    if outcome.wait is not None:
        wait = outcome.wait
        raise ApiProblem(429, "throttled", "api.problem.throttled", headers={"Retry-After": str(wait)}, seconds=wait)
    user = outcome.user
    if user is None:
        raise ApiProblem(401, "login_failed", "api.problem.login_failed")
    session_id, row = await open_session(
        c.session, user=user, remote_addr=address, replaces=request.cookies.get(SESSION_COOKIE)
    )
    response = reply(LoginOut(user=StaffUserOut.model_validate(user), expires_at=row.expires_at))
    secure = (c.settings.backoffice_public_url or "").startswith("https://")
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=secure,
        path="/",
    )
    return response


async def logout(request: web.Request) -> web.Response:
    """End the current sign-in session (the cookie is cleared)."""
    c = ctx(request)
    if c.session_id:
        await close_session(c.session, session_id=c.session_id)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    """The signed-in user."""
    return reply(StaffUserOut.model_validate(ctx(request).user))


routes = [
    ApiRoute(
        "POST",
        "/api/v1/auth/login",
        login,
        None,
        "Sign in",
        body=LoginIn,
        response=LoginOut,
        errors=(429,),
        tags=("auth",),
    ),
    ApiRoute("POST", "/api/v1/auth/logout", logout, Role.OPERATOR, "Sign out", status=204, tags=("auth",)),
    ApiRoute("GET", "/api/v1/auth/me", me, Role.OPERATOR, "The signed-in user", response=StaffUserOut, tags=("auth",)),
]
