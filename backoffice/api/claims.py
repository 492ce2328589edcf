"""Claims: the list (filters, full-text search, sort, keyset pagination, total), registration of a
claim received by staff, one claim, editing under If-Match, workflow transitions, audit events."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.http import (
    Body,
    Id,
    Moment,
    Out,
    Query,
    Text,
    etag,
    if_match_version,
    path_id,
    read_body,
    read_query,
    reply,
)
from backoffice.context import ctx
from shared.claims.desk import edit_claim, register_received_claim
from shared.claims.filters import ClaimFilters
from shared.claims.queries import SORT_CHOICES, TOTAL_LIMIT, claim_events, claim_with_customer, list_claims
from shared.claims.service import NewClaim, transition
from shared.claims.workflow import OPEN_STATUSES, ClaimResult, ClaimStatus, allowed_transitions
from shared.clock import utcnow
from shared.enums import ActorKind, Channel, Priority, Remedy, Role
from shared.text_limits import LONG_TEXT

Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(9999, 12, 30))]
Amount = Annotated[Decimal, Field(ge=0, lt=Decimal("1e12"), max_digits=14, decimal_places=2)]
Sort = Annotated[str, Field(pattern="^-?(" + "|".join(s for s in SORT_CHOICES if not s.startswith("-")) + ")$")]


class ClaimFilterQuery(Query):
    """The claims-list filters; the list, the export and every report take them."""

    status: list[ClaimStatus] = Field(default_factory=list, max_length=10, description="repeat or comma-separate")
    result: list[ClaimResult] = Field(default_factory=list, max_length=10)
    reason_id: Id | None = None
    culprit_department_id: Id | None = None
    culprit_employee_id: Id | None = None
    responsible_id: Id | None = None
    customer_id: Id | None = None
    channel: Channel | None = None
    overdue: bool | None = None
    unassigned: bool | None = None
    q: Text | None = Field(default=None, max_length=200, description="full-text search (Russian and English)")

    def filters(self) -> ClaimFilters:
        return ClaimFilters(
            status=tuple(s.value for s in self.status),
            result=tuple(r.value for r in self.result),
            reason_id=self.reason_id,
            culprit_department_id=self.culprit_department_id,
            culprit_employee_id=self.culprit_employee_id,
            responsible_id=self.responsible_id,
            customer_id=self.customer_id,
            channel=self.channel.value if self.channel else None,
            # Reports take their range as `from`/`to` parameters instead.
            registered_from=getattr(self, "registered_from", None),
            registered_to=getattr(self, "registered_to", None),
            overdue=self.overdue,
            unassigned=self.unassigned,
            q=self.q,
        )


class ClaimListQuery(ClaimFilterQuery):
    registered_from: Day | None = Field(default=None, description="inclusive, a date in the desk's time zone")
    registered_to: Day | None = Field(default=None, description="inclusive")
    sort: Sort = Field(default="-registered_at", description="a field, '-' for descending")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: Text | None = Field(default=None, max_length=500)


class ClaimSummary(Out):
    id: int
    number: str
    status: ClaimStatus
    result: ClaimResult | None
    subject: str
    channel: Channel
    priority: Priority
    customer_id: int
    customer_name: str
    reason_id: int | None
    culprit_department_id: int | None
    culprit_employee_id: int | None
    responsible_id: int | None
    registered_at: datetime
    due_at: datetime | None
    updated_at: datetime
    version: int
    overdue: bool


class ClaimList(Out):
    items: list[ClaimSummary]
    total: int = Field(
        description=f"number of claims matching the filters, counted with each page; exact up to "
        f'{TOTAL_LIMIT:,}, beyond it {TOTAL_LIMIT} with total_exact false ("{TOTAL_LIMIT:,}+")'
    )
    total_exact: bool = Field(
        description=f"false when more than {TOTAL_LIMIT:,} claims match (total is then {TOTAL_LIMIT}, a lower bound)"
    )
    next_cursor: str | None


class CustomerBrief(Out):
    id: int
    name: str
    phone: str | None
    email: str | None
    username: str | None
    telegram_user_id: int | None
    language: str
    bot_blocked_at: datetime | None


class ClaimOut(Out):
    id: int
    number: str
    status: ClaimStatus
    result: ClaimResult | None
    resolution: str | None
    subject: str
    description: str
    channel: Channel
    priority: Priority
    remedy: Remedy | None
    remedy_text: str | None
    order_ref: str | None
    amount_claimed: Decimal | None
    amount_granted: Decimal | None
    currency: str
    customer: CustomerBrief
    reason_id: int | None
    culprit_department_id: int | None
    culprit_employee_id: int | None
    responsible_id: int | None
    registered_at: datetime
    first_response_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    satisfaction_score: int | None
    satisfaction_comment: str | None
    version: int
    overdue: bool
    allowed_transitions: list[ClaimStatus]


class ClaimCreate(Body):
    channel: Channel = Field(description="phone, email or web (in person / web form)")
    description: Text = Field(min_length=1, max_length=LONG_TEXT)
    subject: Text | None = Field(default=None, max_length=300)
    customer_id: Id | None = None
    customer_name: Text | None = Field(default=None, max_length=255)
    customer_phone: Text | None = Field(default=None, max_length=32)
    customer_email: Text | None = Field(default=None, max_length=255)
    remedy: Remedy | None = None
    remedy_text: Text | None = Field(default=None, max_length=LONG_TEXT)
    order_ref: Text | None = Field(default=None, max_length=100)
    amount_claimed: Amount | None = None
    currency: str | None = Field(default=None, pattern="^[A-Za-z]{3}$")
    priority: Priority = Priority.NORMAL
    reason_id: Id | None = None
    culprit_department_id: Id | None = None
    culprit_employee_id: Id | None = None
    responsible_id: Id | None = None


class ClaimPatch(Body):
    """Only the fields sent are changed; null clears a field that may be empty."""

    reason_id: Id | None = None
    culprit_department_id: Id | None = None
    culprit_employee_id: Id | None = None
    responsible_id: Id | None = None
    priority: Priority | None = None
    due_at: Moment | None = Field(default=None, description="a manager's change; needs due_reason")
    due_reason: Text | None = Field(
        default=None, max_length=500, description="why the due date moves (kept in the claim's events)"
    )
    subject: Text | None = Field(default=None, max_length=300)
    description: Text | None = Field(default=None, max_length=LONG_TEXT)
    remedy: Remedy | None = None
    remedy_text: Text | None = Field(default=None, max_length=LONG_TEXT)
    order_ref: Text | None = Field(default=None, max_length=100)
    amount_claimed: Amount | None = None
    amount_granted: Amount | None = Field(
        default=None, description="given when resolving (transitions); here a manager's change"
    )
    currency: str | None = Field(default=None, pattern="^[A-Za-z]{3}$")


class TransitionIn(Body):
    to: ClaimStatus
    result: ClaimResult | None = None
    resolution: Text | None = Field(default=None, max_length=LONG_TEXT)
    amount_granted: Amount | None = None


class EventOut(Out):
    id: int
    kind: str
    actor_kind: ActorKind
    actor_staff_id: int | None
    actor_customer_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime


class EventList(Out):
    items: list[EventOut]


def _overdue(status: str, due_at: datetime | None) -> bool:
    return status in OPEN_STATUSES and due_at is not None and due_at < utcnow()


_COMPUTED = ("customer", "overdue", "allowed_transitions")


def claim_out(claim: Any, customer: Any) -> ClaimOut:
    data = {name: getattr(claim, name) for name in ClaimOut.model_fields if name not in _COMPUTED}
    data.update(
        customer=CustomerBrief.model_validate(customer),
        overdue=_overdue(claim.status, claim.due_at),
        allowed_transitions=list(allowed_transitions(claim.status)),
    )
    return ClaimOut.model_validate(data)


async def list_claims_view(request: web.Request) -> web.Response:
    """Claims, filtered and searched, newest first by default; `next_cursor` fetches the next page."""
    c = ctx(request)
    query = read_query(request, ClaimListQuery)
    page = await list_claims(
        c.session, filters=query.filters(), tz=c.settings.tz, sort=query.sort, limit=query.limit, cursor=query.cursor
    )
    items = [
        ClaimSummary.model_validate({**row, "overdue": _overdue(row["status"], row["due_at"])}) for row in page.items
    ]
    return reply(ClaimList(items=items, total=page.total, total_exact=page.total_exact, next_cursor=page.next_cursor))


async def create_claim(request: web.Request) -> web.Response:
    """Register a claim received by phone, e-mail or in person."""
    c = ctx(request)
    body = await read_body(request, ClaimCreate)
    claim = await register_received_claim(
        c.session,
        actor=c.actor,
        claim_in=NewClaim(
            customer_id=0,
            description=body.description,
            channel=body.channel,
            subject=body.subject,
            remedy=body.remedy,
            remedy_text=body.remedy_text,
            order_ref=body.order_ref,
            amount_claimed=body.amount_claimed,
            currency=body.currency,
            priority=body.priority,
            reason_id=body.reason_id,
            culprit_department_id=body.culprit_department_id,
            culprit_employee_id=body.culprit_employee_id,
            responsible_id=body.responsible_id,
        ),
        customer_id=body.customer_id,
        customer_name=body.customer_name,
        customer_phone=body.customer_phone,
        customer_email=body.customer_email,
    )
    claim, customer = await claim_with_customer(c.session, claim_id=claim.id)
    return reply(
        claim_out(claim, customer),
        status=201,
        headers={"ETag": etag(claim.version), "Location": f"/api/v1/claims/{claim.id}"},
    )


async def get_claim_view(request: web.Request) -> web.Response:
    """One claim with its customer; the ETag is the claim's version."""
    c = ctx(request)
    claim, customer = await claim_with_customer(c.session, claim_id=path_id(request, "claim_id"))
    return reply(claim_out(claim, customer), headers={"ETag": etag(claim.version)})


async def patch_claim(request: web.Request) -> web.Response:
    """Change triage fields, wording or amounts; If-Match must carry the ETag read (412 when stale)."""
    c = ctx(request)
    claim_id = path_id(request, "claim_id")
    body = await read_body(request, ClaimPatch)
    version = if_match_version(request, required=True)
    assert version is not None and c.user is not None
    changes = body.model_dump(exclude_unset=True)
    due_reason = changes.pop("due_reason", None)
    claim = await edit_claim(
        c.session,
        claim_id=claim_id,
        actor=c.actor,
        changes=changes,
        expected_version=version,
        may_reassign=Role(c.user.role).at_least(Role.MANAGER),
        due_reason=due_reason,
    )
    claim, customer = await claim_with_customer(c.session, claim_id=claim.id)
    return reply(claim_out(claim, customer), headers={"ETag": etag(claim.version)})


async def transition_claim(request: web.Request) -> web.Response:
    """Move a claim through the workflow; 409 names the allowed targets. If-Match is optional."""
    c = ctx(request)
    claim_id = path_id(request, "claim_id")
    body = await read_body(request, TransitionIn)
    claim = await transition(
        c.session,
        claim_id=claim_id,
        to=body.to,
        actor=c.actor,
        result=body.result,
        resolution=body.resolution,
        amount_granted=body.amount_granted,
        expected_version=if_match_version(request, required=False),
    )
    claim, customer = await claim_with_customer(c.session, claim_id=claim.id)
    return reply(claim_out(claim, customer), headers={"ETag": etag(claim.version)})


async def list_events(request: web.Request) -> web.Response:
    """The claim's audit trail, oldest first."""
    c = ctx(request)
    events = await claim_events(c.session, claim_id=path_id(request, "claim_id"))
    return reply(EventList(items=[EventOut.model_validate(e) for e in events]))


TAGS = ("claims",)
routes = [
    ApiRoute(
        "GET",
        "/api/v1/claims",
        list_claims_view,
        Role.OPERATOR,
        "List and search claims",
        query=ClaimListQuery,
        response=ClaimList,
        tags=TAGS,
        read_only=True,
    ),
    ApiRoute(
        "POST",
        "/api/v1/claims",
        create_claim,
        Role.OPERATOR,
        "Register a claim received by staff",
        body=ClaimCreate,
        response=ClaimOut,
        status=201,
        errors=(409,),
        tags=TAGS,
    ),
    ApiRoute(
        "GET", "/api/v1/claims/{claim_id}", get_claim_view, Role.OPERATOR, "One claim", response=ClaimOut, tags=TAGS
    ),
    ApiRoute(
        "PATCH",
        "/api/v1/claims/{claim_id}",
        patch_claim,
        Role.OPERATOR,
        "Edit a claim (If-Match)",
        body=ClaimPatch,
        response=ClaimOut,
        errors=(409, 412, 428),
        headers=("If-Match",),
        tags=TAGS,
    ),
    ApiRoute(
        "POST",
        "/api/v1/claims/{claim_id}/transitions",
        transition_claim,
        Role.OPERATOR,
        "Change a claim's status",
        body=TransitionIn,
        response=ClaimOut,
        errors=(409, 412),
        headers=("If-Match",),
        tags=TAGS,
    ),
    ApiRoute(
        "GET",
        "/api/v1/claims/{claim_id}/events",
        list_events,
        Role.OPERATOR,
        "A claim's audit events",
        response=EventList,
        tags=TAGS,
    ),
]
