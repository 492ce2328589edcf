"""The new-claim form (operators and up): a claim received by phone, e-mail or in person, for a
customer found by name, phone or username, or created from a name and a phone or e-mail. It is
registered by shared.claims.desk.register_received_claim, as POST /api/v1/claims does (the same
body model, so the same limits), and the browser goes on to the claim's card, /claims/{id}.

The customer search is its own GET form (it works without JavaScript; htmx refreshes the matches as
the operator types); the matches' radio buttons belong to the claim form through `form=`."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from backoffice.api.claims import ClaimCreate
from backoffice.web.context import WebContext, wctx
from backoffice.web.refusals import refusal_status, refusal_text
from backoffice.web.render import is_fragment_for, render, see_other
from backoffice.web.routes import WebRoute
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import list_entries
from shared.claims.desk import STAFF_CHANNELS, register_received_claim
from shared.claims.service import NewClaim
from shared.customers.queries import list_customers
from shared.enums import Priority, Remedy, Role
from shared.errors import DomainError
from shared.staff.service import list_users

MATCHES = 10
MAX_QUERY = 200
CLAIM_FIELDS = (
    "channel",
    "subject",
    "description",
    "remedy",
    "remedy_text",
    "order_ref",
    "amount_claimed",
    "priority",
    "reason_id",
    "culprit_department_id",
    "culprit_employee_id",
    "responsible_id",
)
NEW_CUSTOMER = ("customer_name", "customer_phone", "customer_email")


async def _matches(c: WebContext, q: str) -> list[Any]:
    if not q.strip():
        return []
    return list((await list_customers(c.session, q=q.strip()[:MAX_QUERY], limit=MATCHES)).items)


async def _form(
    request: web.Request,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    c = wctx(request)
    values = values or {}
    q = values.get("customer_q", request.query.get("customer_q", ""))[:MAX_QUERY]
    matches = await _matches(c, q)
    chosen = values.get("customer_id", "")
    if not chosen:
        chosen = "new" if not matches else ""
    context = {
        "values": values,
        "q": q,
        "matches": matches,
        "chosen": chosen,
        "error": error,
        "channels": [ch.value for ch in STAFF_CHANNELS],
        "remedies": [r.value for r in Remedy],
        "priorities": [p.value for p in Priority],
        "reasons": await list_entries(c.session, Reason, include_inactive=False),
        "departments": await list_entries(c.session, Department, include_inactive=False),
        "employees": await list_entries(c.session, Employee, include_inactive=False),
        # Someone below manager may leave a claim unassigned or take it; a manager names anyone.
        "staff": [u for u in await list_users(c.session) if u.active] if c.has_role(Role.MANAGER) else [c.user],
        "currency": c.settings.currency,
    }
    if is_fragment_for(request, "customer-matches"):
        return render(request, "new_claim_matches.html", context, status=status)
    return render(request, "new_claim.html", context, status=status)


async def new_claim_page(request: web.Request) -> web.Response:
    return await _form(request)


def _label(c: WebContext, field: str) -> str:
    key = f"web.newclaim.field.{field}"
    return c.t(key) if c.t.has(key) else field


async def register(request: web.Request) -> web.Response:
    c = wctx(request)
    form = await request.post()
    values = {key: str(value) for key, value in form.items() if key != "csrf_token" and isinstance(value, str)}
    body: dict[str, Any] = {k: values[k].strip() for k in CLAIM_FIELDS if values.get(k, "").strip()}
    if "amount_claimed" in body:
        body["amount_claimed"] = body["amount_claimed"].replace(" ", "").replace("\u00a0", "").replace(",", ".")
    chosen = values.get("customer_id", "")
    if chosen == "new":
        body.update({k: values[k].strip() for k in NEW_CUSTOMER if values.get(k, "").strip()})
        if "customer_name" not in body:
            return await _form(request, values=values, error=c.t("web.newclaim.error.customer_name"), status=422)
        email = body.get("customer_email")
        if email is not None and ("@" not in email or len(email) > 255 or any(ch.isspace() for ch in email)):
            return await _form(request, values=values, error=c.t("web.newclaim.error.customer_email"), status=422)
    elif chosen.isascii() and chosen.isdigit():
        body["customer_id"] = chosen
    else:
        return await _form(request, values=values, error=c.t("web.newclaim.error.customer"), status=422)
    try:
        claim_in = ClaimCreate.model_validate(body)
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]})
        message = c.t("web.newclaim.error.fields", fields=", ".join(_label(c, f) for f in fields))
        return await _form(request, values=values, error=message, status=422)
    try:
        claim = await register_received_claim(
            c.session,
            actor=c.actor,
            claim_in=NewClaim(
                customer_id=0,
                **claim_in.model_dump(include=set(CLAIM_FIELDS) | {"currency"}, exclude_none=True),
            ),
            customer_id=claim_in.customer_id,
            customer_name=claim_in.customer_name,
            customer_phone=claim_in.customer_phone,
            customer_email=claim_in.customer_email,
        )
    except DomainError as exc:
        return await _form(request, values=values, error=refusal_text(c.t, exc), status=refusal_status(exc))
    return see_other(request, f"/claims/{claim.id}")


routes = [
    WebRoute("GET", "/claims/new", new_claim_page, role=Role.OPERATOR),
    WebRoute("POST", "/claims/new", register, role=Role.OPERATOR),
]
