"""The customer page: contact details, every claim of the customer and every message they sent,
those outside any claim included; such a message becomes a claim, or goes onto an open claim of
theirs, in one click. And the header's search: customers by name, phone or username, claims by
number."""

from __future__ import annotations

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.errors import error_text
from backoffice.web.render import is_fragment_for, render, see_other
from backoffice.web.routes import WebRoute
from backoffice.web.views.claim import claim_path_id
from shared.claims.desk import attach_message_to_claim, register_claim_from_message
from shared.claims.lookup import claims_by_number
from shared.claims.workflow import ClaimStatus
from shared.customers.queries import customer_messages, customer_with_claims, list_customers
from shared.errors import DomainError, InvalidValue


async def _page(request: web.Request, customer_id: int, *, error: str | None = None, status: int = 200):
    c = wctx(request)
    customer, claims = await customer_with_claims(c.session, customer_id=customer_id)
    messages = await customer_messages(c.session, customer_id=customer_id)
    numbers = {claim.id: claim.number for claim in claims}
    context = {
        "customer": customer,
        "claims": claims,
        "messages": messages,
        "numbers": numbers,
        "open_claims": [claim for claim in claims if claim.status != ClaimStatus.CLOSED.value],
        "error": error,
    }
    template = "customer_messages.html" if is_fragment_for(request, "messages") else "customer.html"
    return render(request, template, context, status=status)


async def customer_page(request: web.Request) -> web.Response:
    return await _page(request, claim_path_id(request, "customer_id"))


async def file_message(request: web.Request) -> web.Response:
    """A message outside any claim: `claim_id=new` registers a claim with it, a claim's id moves it there."""
    c = wctx(request)
    interaction_id = claim_path_id(request, "interaction_id")
    form = await request.post()
    customer_id = int(str(form.get("customer_id", "0"))) if str(form.get("customer_id", "")).isdigit() else 0
    target = str(form.get("claim_id", ""))
    try:
        if target == "new":
            claim = await register_claim_from_message(c.session, interaction_id=interaction_id, actor=c.actor)
        elif target.isascii() and target.isdigit():
            claim = await attach_message_to_claim(
                c.session, interaction_id=interaction_id, claim_id=int(target), actor=c.actor
            )
        else:
            raise InvalidValue("claim_id", "choose a claim")
    except DomainError as exc:
        await c.rollback()
        if not customer_id:
            raise
        return await _page(request, customer_id, error=error_text(c.t, exc), status=422)
    return see_other(request, f"/claims/{claim.id}")


async def search(request: web.Request) -> web.Response:
    c = wctx(request)
    q = (request.query.get("q") or "").strip()[:200].replace("\x00", "")
    customers = (await list_customers(c.session, q=q, limit=50)).items if q else []
    claims = await claims_by_number(c.session, q=q) if q else []
    if len(claims) == 1 and not customers:
        return see_other(request, f"/claims/{claims[0][0].id}")
    return render(request, "search.html", {"q": q, "customers": customers, "claims": claims})


routes = [
    WebRoute("GET", "/customers/{customer_id}", customer_page),
    WebRoute("POST", "/messages/{interaction_id}/file", file_message),
    WebRoute("GET", "/search", search),
]
