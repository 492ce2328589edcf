"""The catalogs (managers and admins): departments, employees and reasons; list, add, edit,
deactivate and activate again, through the same services as /api/v1/{departments,employees,reasons}
(shared/catalogs/service.py). A desk whose catalogs are empty is offered the starter set
(shared/catalogs/starter.py) in its own language, DEFAULT_LANGUAGE.

Forms post and answer 303 to the list (`?done=<what>&id=<entry>` says what happened); a refusal
shows the form again as typed, with the reason in the staff member's language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from backoffice.web.context import WebContext, wctx
from backoffice.web.refusals import refusal_status, refusal_text
from backoffice.web.render import render, see_other
from backoffice.web.routes import WebRoute
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import FIELDS, create_entry, get_entry, list_entries, update_entry
from shared.catalogs.starter import add_starter_set, catalogs_empty, starter_set
from shared.enums import Role
from shared.errors import DomainError, NotFound

KINDS: dict[str, type[Department] | type[Employee] | type[Reason]] = {
    "departments": Department,
    "employees": Employee,
    "reasons": Reason,
}
KIND_PATTERN = "{kind:departments|employees|reasons}"
DONE = ("added", "saved", "deactivated", "activated", "starter")
MAX_ID = 2**63 - 1


@dataclass
class Form:
    """What the add or edit form shows: the values as typed, and the refusal if any."""

    values: dict[str, Any]
    error: str | None = None


def _kind(request: web.Request) -> tuple[str, type[Department] | type[Employee] | type[Reason]]:
    kind = request.match_info["kind"]
    return kind, KINDS[kind]


def _entry_id(request: web.Request) -> int:
    raw = request.match_info["entry_id"]
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise web.HTTPNotFound()
    return int(raw)


def _optional_id(value: Any) -> int | None:
    """A select's choice: '' is none; anything else must be an id (the service checks it exists)."""
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ID:
        return 0  # no such entry: the service refuses it in words
    return int(text)


def _values(kind: str, form: Any, *, editing: bool) -> dict[str, Any]:
    """The form's fields as the service takes them."""
    values: dict[str, Any] = {"name": str(form.get("name", ""))}
    if kind == "employees":
        values["department_id"] = _optional_id(form.get("department_id"))
        values["position"] = str(form.get("position", "")).strip() or None
    if kind == "reasons":
        values["parent_id"] = _optional_id(form.get("parent_id"))
    if editing:
        values["active"] = form.get("active") == "on"
    return values


async def _page(request: web.Request, kind: str, *, add: Form | None = None, status: int = 200) -> web.Response:
    c = wctx(request)
    model = KINDS[kind]
    entries = await list_entries(c.session, model)
    done = request.query.get("done")
    done_entry = None
    if done in DONE and request.query.get("id", "").isdigit():
        done_entry = next((e for e in entries if e.id == int(request.query["id"])), None)
    context = {
        "kind": kind,
        "kinds": list(KINDS),
        "entries": entries,
        "add": add or Form(values={}),
        "done": done if done in DONE else None,
        "done_entry": done_entry,
        "starter": starter_set(c.settings.default_language) if await catalogs_empty(c.session) else None,
        **await _choices(c),
    }
    return render(request, "catalogs.html", context, status=status)


async def _choices(c: WebContext) -> dict[str, Any]:
    return {
        "departments": await list_entries(c.session, Department),
        "reasons": await list_entries(c.session, Reason),
    }


async def catalogs_home(request: web.Request) -> web.Response:
    return see_other(request, "/catalogs/departments")


async def catalog_page(request: web.Request) -> web.Response:
    kind, _ = _kind(request)
    return await _page(request, kind)


async def add_entry(request: web.Request) -> web.Response:
    c = wctx(request)
    kind, model = _kind(request)
    form = await request.post()
    values = _values(kind, form, editing=False)
    try:
        entry = await create_entry(c.session, model, **values)
    except DomainError as exc:
        message = refusal_text(c.t, exc, name=values["name"].strip())
        return await _page(request, kind, add=Form(values=values, error=message), status=refusal_status(exc))
    return see_other(request, f"/catalogs/{kind}?done=added&id={entry.id}")


async def _edit_page(
    request: web.Request, kind: str, entry: Any, form: Form | None = None, status: int = 200
) -> web.Response:
    c = wctx(request)
    values = form.values if form else {field: getattr(entry, field) for field in FIELDS[KINDS[kind]]}
    context = {
        "kind": kind,
        "entry": entry,
        "form": Form(values=values, error=form.error if form else None),
        **await _choices(c),
    }
    return render(request, "catalog_edit.html", context, status=status)


async def edit_page(request: web.Request) -> web.Response:
    c = wctx(request)
    kind, model = _kind(request)
    entry = await get_entry(c.session, model, _entry_id(request))
    return await _edit_page(request, kind, entry)


async def save_entry(request: web.Request) -> web.Response:
    c = wctx(request)
    kind, model = _kind(request)
    entry_id = _entry_id(request)
    form = await request.post()
    values = _values(kind, form, editing=True)
    try:
        await update_entry(c.session, model, entry_id, values)
    except NotFound:
        raise
    except DomainError as exc:
        entry = await get_entry(c.session, model, entry_id)
        message = refusal_text(c.t, exc, name=values["name"].strip())
        return await _edit_page(request, kind, entry, Form(values, message), status=refusal_status(exc))
    return see_other(request, f"/catalogs/{kind}?done=saved&id={entry_id}")


async def set_active(request: web.Request, active: bool) -> web.Response:
    c = wctx(request)
    kind, model = _kind(request)
    entry_id = _entry_id(request)
    await update_entry(c.session, model, entry_id, {"active": active})
    return see_other(request, f"/catalogs/{kind}?done={'activated' if active else 'deactivated'}&id={entry_id}")


async def deactivate_entry(request: web.Request) -> web.Response:
    return await set_active(request, False)


async def activate_entry(request: web.Request) -> web.Response:
    return await set_active(request, True)


async def add_starter(request: web.Request) -> web.Response:
    """The starter set, in the desk's language (not the manager's own): the names are the desk's."""
    c = wctx(request)
    try:
        await add_starter_set(c.session, actor=c.actor, language=c.settings.default_language)
    except DomainError as exc:
        return await _page(
            request, "departments", add=Form(values={}, error=refusal_text(c.t, exc)), status=refusal_status(exc)
        )
    return see_other(request, "/catalogs/reasons?done=starter")


routes = [
    WebRoute("GET", "/catalogs", catalogs_home, role=Role.MANAGER),
    WebRoute("POST", "/catalogs/starter-set", add_starter, role=Role.MANAGER),
    WebRoute("GET", f"/catalogs/{KIND_PATTERN}", catalog_page, role=Role.MANAGER),
    WebRoute("POST", f"/catalogs/{KIND_PATTERN}", add_entry, role=Role.MANAGER),
    WebRoute("GET", f"/catalogs/{KIND_PATTERN}/{{entry_id}}", edit_page, role=Role.MANAGER),
    WebRoute("POST", f"/catalogs/{KIND_PATTERN}/{{entry_id}}", save_entry, role=Role.MANAGER),
    WebRoute("POST", f"/catalogs/{KIND_PATTERN}/{{entry_id}}/deactivate", deactivate_entry, role=Role.MANAGER),
    WebRoute("POST", f"/catalogs/{KIND_PATTERN}/{{entry_id}}/activate", activate_entry, role=Role.MANAGER),
]
