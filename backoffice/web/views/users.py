"""Staff users (admins only): list, add, edit (name, role, language, employee, password, active),
deactivate, link or unlink their Telegram account, through the services of /api/v1/users
(shared/staff; the Telegram link through shared/staff/linking.py). Changing someone's role or
password, or deactivating them, ends their sign-in sessions; the desk keeps at least one active
admin. API tokens stay with the API and `claimdesk tokens`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.refusals import refusal_status, refusal_text
from backoffice.web.render import render, see_other
from backoffice.web.routes import WebRoute
from shared.catalogs.models import Employee
from shared.catalogs.service import list_entries
from shared.enums import Role
from shared.errors import DomainError
from shared.staff.accounts import update_user
from shared.staff.linking import link_telegram, parse_telegram_id, unlink_telegram
from shared.staff.models import StaffUser
from shared.staff.service import create_user, get_user, list_users

DONE = ("added", "saved", "deactivated", "activated", "linked", "unlinked")
MAX_ID = 2**63 - 1
MAX_PASSWORD = 1024


def _user_id(request: web.Request) -> int:
    raw = request.match_info["user_id"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise web.HTTPNotFound()
    return int(raw)


def _employee_id(value: Any) -> int | None:
    text = str(value or "").strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID else 0


async def _list_page(
    request: web.Request, *, add: dict[str, Any] | None = None, error: str | None = None, status: int = 200
) -> web.Response:
    c = wctx(request)
    users = await list_users(c.session)
    done = request.query.get("done")
    done_user = None
    if done in DONE and request.query.get("id", "").isdigit():
        done_user = next((u for u in users if u.id == int(request.query["id"])), None)
    context = {
        "users": users,
        "roles": [r.value for r in Role],
        "add": add or {"role": Role.OPERATOR.value, "language": c.settings.default_language},
        "error": error,
        "done": done if done in DONE else None,
        "done_user": done_user,
        "employees": await list_entries(c.session, Employee),
    }
    return render(request, "users.html", context, status=status)


async def users_page(request: web.Request) -> web.Response:
    return await _list_page(request)


async def add_user(request: web.Request) -> web.Response:
    c = wctx(request)
    form = await request.post()
    values = {
        "login": str(form.get("login", "")).strip(),
        "full_name": str(form.get("full_name", "")).strip()[:200],
        "role": str(form.get("role", "")),
        "language": str(form.get("language", "")),
        "employee_id": _employee_id(form.get("employee_id")),
    }
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    try:
        if values["language"] not in ("ru", "en"):
            values["language"] = c.settings.default_language
        if values["employee_id"] == 0:
            values["employee_id"] = None
        user = await create_user(c.session, password=password, **values)
    except DomainError as exc:
        return await _list_page(
            request, add=values, error=refusal_text(c.t, exc, login=values["login"]), status=refusal_status(exc)
        )
    return see_other(request, f"/users?done=added&id={user.id}")


async def _edit_page(
    request: web.Request,
    user: StaffUser,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
    telegram_value: str = "",
) -> web.Response:
    c = wctx(request)
    fields = ("full_name", "role", "language", "active", "employee_id")
    context = {
        "edited": user,
        "values": values or {field: getattr(user, field) for field in fields},
        "roles": [r.value for r in Role],
        "error": error,
        "employees": await list_entries(c.session, Employee),
        "is_self": c.user is not None and c.user.id == user.id,
        "telegram_value": telegram_value,
    }
    return render(request, "user_edit.html", context, status=status)


async def edit_page(request: web.Request) -> web.Response:
    c = wctx(request)
    return await _edit_page(request, await get_user(c.session, user_id=_user_id(request)))


async def save_user(request: web.Request) -> web.Response:
    c = wctx(request)
    user_id = _user_id(request)
    user = await get_user(c.session, user_id=user_id)
    form = await request.post()
    changes: dict[str, Any] = {
        "full_name": str(form.get("full_name", "")),
        "role": str(form.get("role", "")),
        "language": str(form.get("language", "")),
        "active": form.get("active") == "on",
        "employee_id": _employee_id(form.get("employee_id")),
    }
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    if password:
        changes["password"] = password
    try:
        await update_user(c.session, user_id=user_id, changes=changes)
    except DomainError as exc:
        shown = {k: v for k, v in changes.items() if k != "password"}
        return await _edit_page(request, user, shown, refusal_text(c.t, exc), status=refusal_status(exc))
    return see_other(request, f"/users?done=saved&id={user_id}")


async def _set_active(request: web.Request, active: bool) -> web.Response:
    c = wctx(request)
    user_id = _user_id(request)
    try:
        await update_user(c.session, user_id=user_id, changes={"active": active})
    except DomainError as exc:
        if exc.code == "not_found":
            raise
        return await _list_page(request, error=refusal_text(c.t, exc), status=refusal_status(exc))
    return see_other(request, f"/users?done={'activated' if active else 'deactivated'}&id={user_id}")


async def deactivate_user(request: web.Request) -> web.Response:
    return await _set_active(request, False)


async def activate_user(request: web.Request) -> web.Response:
    return await _set_active(request, True)


async def link_user_telegram(request: web.Request) -> web.Response:
    """An admin links a staff user's Telegram account by its id (the staff member's own way is the
    code on their profile page)."""
    c = wctx(request)
    user_id = _user_id(request)
    user = await get_user(c.session, user_id=user_id)
    form = await request.post()
    raw = str(form.get("telegram_user_id", ""))[:40]
    try:
        await link_telegram(c.session, user_id=user_id, telegram_user_id=parse_telegram_id(raw), actor=c.actor)
    except DomainError as exc:
        return await _edit_page(
            request, user, error=refusal_text(c.t, exc), status=refusal_status(exc), telegram_value=raw
        )
    return see_other(request, f"/users?done=linked&id={user_id}")


async def unlink_user_telegram(request: web.Request) -> web.Response:
    c = wctx(request)
    user_id = _user_id(request)
    await unlink_telegram(c.session, user_id=user_id, actor=c.actor)
    return see_other(request, f"/users?done=unlinked&id={user_id}")


routes = [
    WebRoute("GET", "/users", users_page, role=Role.ADMIN),
    WebRoute("POST", "/users", add_user, role=Role.ADMIN),
    WebRoute("GET", "/users/{user_id}", edit_page, role=Role.ADMIN),
    WebRoute("POST", "/users/{user_id}", save_user, role=Role.ADMIN),
    WebRoute("POST", "/users/{user_id}/deactivate", deactivate_user, role=Role.ADMIN),
    WebRoute("POST", "/users/{user_id}/activate", activate_user, role=Role.ADMIN),
    WebRoute("POST", "/users/{user_id}/telegram", link_user_telegram, role=Role.ADMIN),
    WebRoute("POST", "/users/{user_id}/telegram/unlink", unlink_user_telegram, role=Role.ADMIN),
]
