"""Customers: list and search; one customer with their claims; a customer's personal data (its
export, and its erasure on request: admins only, both recorded in the customer's audit trail)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.http import Body, Id, Out, Query, Text, path_id, read_body, read_query, reply
from backoffice.context import ctx
from shared.claims.workflow import ClaimResult, ClaimStatus
from shared.customers.personal_data import erase_personal_data, export_personal_data
from shared.customers.queries import customer_with_claims, list_customers
from shared.enums import Role
from shared.interactions.attachment_files import files_dir


class CustomerOut(Out):
    id: int
    name: str
    phone: str | None
    email: str | None
    username: str | None
    telegram_user_id: int | None
    language: str
    bot_blocked_at: datetime | None
    notes: str | None
    created_at: datetime
    erased_at: datetime | None = Field(default=None, description="the customer's personal data was erased")


class CustomerList(Out):
    items: list[CustomerOut]
    total: int
    next_cursor: int | None


class CustomerQuery(Query):
    q: Text | None = Field(default=None, max_length=200, description="name, phone, e-mail or username")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Id | None = None


class CustomerClaim(Out):
    id: int
    number: str
    status: ClaimStatus
    result: ClaimResult | None
    subject: str
    registered_at: datetime


class CustomerDetail(CustomerOut):
    claims: list[CustomerClaim]


async def customers_view(request: web.Request) -> web.Response:
    """Customers, newest first; `q` searches."""
    c = ctx(request)
    query = read_query(request, CustomerQuery)
    page = await list_customers(c.session, q=query.q, limit=query.limit, after_id=query.cursor)
    return reply(
        CustomerList(
            items=[CustomerOut.model_validate(x) for x in page.items], total=page.total, next_cursor=page.next_cursor
        )
    )


async def customer_view(request: web.Request) -> web.Response:
    """One customer with their claims."""
    c = ctx(request)
    customer, claims = await customer_with_claims(c.session, customer_id=path_id(request, "customer_id"))
    data = CustomerOut.model_validate(customer).model_dump()
    return reply(CustomerDetail(**data, claims=[CustomerClaim.model_validate(x) for x in claims]))


class PersonalData(Out):
    """Everything stored about one customer (claimdesk.personal-data.v1)."""

    format: str
    exported_at: datetime
    customer: dict[str, Any]
    claims: list[dict[str, Any]]
    interactions: list[dict[str, Any]] = Field(description="each with its attachments' details")
    plan_items: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    events: dict[str, list[dict[str, Any]]] = Field(description="the audit events of their claims and of the customer")


class ErasureIn(Body):
    confirm: Literal[True] = Field(description="must be true: erasure cannot be undone")


class ErasureOut(Out):
    customer_id: int
    erased_at: datetime
    claims: int
    interactions: int
    attachments: int
    files_deleted: int
    plan_items: int
    events_scrubbed: int
    outbox_messages: int
    irreversible: bool = Field(default=True, description="nothing erased can be restored")


async def personal_data_view(request: web.Request) -> web.Response:
    """Everything stored about the customer, as a JSON file; the export is recorded (who, when)."""
    c = ctx(request)
    customer_id = path_id(request, "customer_id")
    document = await export_personal_data(c.session, customer_id=customer_id, actor=c.actor)
    return web.Response(
        body=orjson.dumps(document, option=orjson.OPT_INDENT_2),
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}-personal-data.json"'},
    )


async def erase_view(request: web.Request) -> web.Response:
    """Erase the customer's personal data for good (the claims' figures stay for the reports)."""
    c = ctx(request)
    customer_id = path_id(request, "customer_id")
    await read_body(request, ErasureIn)
    erasure = await erase_personal_data(
        c.session, customer_id=customer_id, actor=c.actor, files_root=files_dir(c.settings.data_dir)
    )
    return reply(ErasureOut.model_validate(erasure.as_dict()))


routes = [
    ApiRoute(
        "GET",
        "/api/v1/customers",
        customers_view,
        Role.OPERATOR,
        "List and search customers",
        query=CustomerQuery,
        response=CustomerList,
        tags=("customers",),
    ),
    ApiRoute(
        "GET",
        "/api/v1/customers/{customer_id}",
        customer_view,
        Role.OPERATOR,
        "One customer and their claims",
        response=CustomerDetail,
        tags=("customers",),
    ),
    ApiRoute(
        "GET",
        "/api/v1/customers/{customer_id}/personal-data",
        personal_data_view,
        Role.ADMIN,
        "Export everything stored about a customer (recorded in their audit trail)",
        response=PersonalData,
        tags=("customers",),
    ),
    ApiRoute(
        "POST",
        "/api/v1/customers/{customer_id}/erasure",
        erase_view,
        Role.ADMIN,
        "Erase a customer's personal data: IRREVERSIBLE (names, contacts, messages, files; the claims' figures stay)",
        body=ErasureIn,
        response=ErasureOut,
        errors=(409,),
        tags=("customers",),
    ),
]
