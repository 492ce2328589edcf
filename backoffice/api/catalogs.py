"""Catalogs: departments, employees and reasons. Anyone signed in reads them; managers create,
update and deactivate. Nothing is deleted: entries are referenced by claims and history."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.http import Body, Id, Out, Query, Text, path_id, read_body, read_query, reply
from backoffice.context import ctx
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import create_entry, list_entries, update_entry
from shared.enums import Role


class CatalogQuery(Query):
    include_inactive: bool = True


class DepartmentOut(Out):
    id: int
    name: str
    active: bool
    created_at: datetime


class DepartmentIn(Body):
    name: Text = Field(min_length=1, max_length=200)


class DepartmentPatch(Body):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None


class EmployeeOut(Out):
    id: int
    name: str
    department_id: int | None
    position: str | None
    active: bool
    created_at: datetime


class EmployeeIn(Body):
    name: Text = Field(min_length=1, max_length=200)
    department_id: Id | None = None
    position: Text | None = Field(default=None, max_length=200)


class EmployeePatch(Body):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    department_id: Id | None = None
    position: Text | None = Field(default=None, max_length=200)
    active: bool | None = None


class ReasonOut(Out):
    id: int
    name: str
    parent_id: int | None
    active: bool
    created_at: datetime


class ReasonIn(Body):
    name: Text = Field(min_length=1, max_length=200)
    parent_id: Id | None = None


class ReasonPatch(Body):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    parent_id: Id | None = None
    active: bool | None = None


class DepartmentList(Out):
    items: list[DepartmentOut]


class EmployeeList(Out):
    items: list[EmployeeOut]


class ReasonList(Out):
    items: list[ReasonOut]


def _catalog(
    model: type, slug: str, out: type[Out], listing: type[Out], create_in: type[Body], patch_in: type[Body]
) -> list[ApiRoute]:
    param = f"{slug[:-1]}_id"

    async def list_view(request: web.Request) -> web.Response:
        c = ctx(request)
        query = read_query(request, CatalogQuery)
        rows = await list_entries(c.session, model, include_inactive=query.include_inactive)
        return reply(listing(items=[out.model_validate(r) for r in rows]))

    async def create_view(request: web.Request) -> web.Response:
        c = ctx(request)
        body = await read_body(request, create_in)
        entry = await create_entry(c.session, model, **body.model_dump(exclude_unset=True))
        return reply(out.model_validate(entry), status=201)

    async def update_view(request: web.Request) -> web.Response:
        c = ctx(request)
        entry_id = path_id(request, param)
        body = await read_body(request, patch_in)
        changes = {
            k: v
            for k, v in body.model_dump(exclude_unset=True).items()
            if v is not None or k in ("department_id", "parent_id", "position")
        }
        entry = await update_entry(c.session, model, entry_id, changes)
        return reply(out.model_validate(entry))

    async def deactivate_view(request: web.Request) -> web.Response:
        c = ctx(request)
        entry = await update_entry(c.session, model, path_id(request, param), {"active": False})
        return reply(out.model_validate(entry))

    for view, verb in (
        (list_view, "list"),
        (create_view, "create"),
        (update_view, "update"),
        (deactivate_view, "deactivate"),
    ):
        view.__name__ = view.__qualname__ = f"{verb}_{slug}"
    base = f"/api/v1/{slug}"
    tags = ("catalogs",)
    return [
        ApiRoute(
            "GET", base, list_view, Role.OPERATOR, f"List {slug}", query=CatalogQuery, response=listing, tags=tags
        ),
        ApiRoute(
            "POST",
            base,
            create_view,
            Role.MANAGER,
            f"Create a {slug[:-1]}",
            body=create_in,
            response=out,
            status=201,
            errors=(409,),
            tags=tags,
        ),
        ApiRoute(
            "PATCH",
            f"{base}/{{{param}}}",
            update_view,
            Role.MANAGER,
            f"Update a {slug[:-1]}",
            body=patch_in,
            response=out,
            errors=(409,),
            tags=tags,
        ),
        ApiRoute(
            "POST",
            f"{base}/{{{param}}}/deactivate",
            deactivate_view,
            Role.MANAGER,
            f"Deactivate a {slug[:-1]} (hidden from new choices, kept in history)",
            response=out,
            tags=tags,
        ),
    ]


routes = [
    *_catalog(Department, "departments", DepartmentOut, DepartmentList, DepartmentIn, DepartmentPatch),
    *_catalog(Employee, "employees", EmployeeOut, EmployeeList, EmployeeIn, EmployeePatch),
    *_catalog(Reason, "reasons", ReasonOut, ReasonList, ReasonIn, ReasonPatch),
]
