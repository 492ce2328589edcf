"""Customers: list and search; one customer with their claims."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.http import Id, Out, Query, Text, ctx, path_id, read_query, reply
from shared.claims.workflow import ClaimResult, ClaimStatus
from shared.customers.queries import customer_with_claims, list_customers
from shared.enums import Role


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
]
