"""A claim's investigation plan: dated activities with an owner, an outcome and a position.

Plan items have no version column; their ETag is a hash of their content (`plan_item_etag`), sent
as the ETag header of one item and as `etag` of each item in a list. PATCH and DELETE need it in
If-Match, like a claim's PATCH: 428 without it, 412 when the item changed since it was read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.http import Body, Id, Out, Text, path_id, read_body, reply
from backoffice.context import ctx
from backoffice.problems import ApiProblem
from shared.claims.queries import claim_plan
from shared.enums import Role
from shared.plans.service import add_plan_item, change_plan_item, plan_item_etag, remove_plan_item
from shared.text_limits import LONG_TEXT

Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(9999, 12, 30))]


class PlanItemOut(Out):
    id: int
    claim_id: int
    title: str
    details: str | None
    owner_id: int | None
    due_date: date | None
    done: bool
    done_at: datetime | None
    outcome: str | None
    position: int
    visible_to_customer: bool
    created_at: datetime
    etag: str = Field(description="send it back in If-Match to change or remove the item")


class PlanList(Out):
    items: list[PlanItemOut]


class PlanItemIn(Body):
    title: Text = Field(min_length=1, max_length=300)
    details: Text | None = Field(default=None, max_length=LONG_TEXT)
    owner_id: Id | None = None
    due_date: Day | None = None
    visible_to_customer: bool = False


class PlanItemPatch(Body):
    title: Text | None = Field(default=None, min_length=1, max_length=300)
    details: Text | None = Field(default=None, max_length=LONG_TEXT)
    owner_id: Id | None = None
    due_date: Day | None = None
    outcome: Text | None = Field(default=None, max_length=LONG_TEXT)
    position: int | None = Field(default=None, ge=0, le=1_000_000)
    visible_to_customer: bool | None = None
    done: bool | None = None


def item_out(item: object) -> PlanItemOut:
    data = {k: getattr(item, k) for k in PlanItemOut.model_fields if k not in ("done", "etag")}
    return PlanItemOut.model_validate({**data, "done": data["done_at"] is not None, "etag": plan_item_etag(item)})  # type: ignore[arg-type]


def item_reply(item: object, *, status: int = 200) -> web.Response:
    out = item_out(item)
    return reply(out, status=status, headers={"ETag": out.etag})


def if_match(request: web.Request) -> str:
    """The ETag named by If-Match; 428 when missing (the service answers 412 when it is stale)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        raise ApiProblem(428, "precondition_required", "api.problem.precondition_required")
    return header


async def get_plan(request: web.Request) -> web.Response:
    """The plan, in order."""
    c = ctx(request)
    items = await claim_plan(c.session, claim_id=path_id(request, "claim_id"))
    return reply(PlanList(items=[item_out(i) for i in items]))


async def add_plan(request: web.Request) -> web.Response:
    """Add an activity at the end of the plan."""
    c = ctx(request)
    claim_id = path_id(request, "claim_id")
    body = await read_body(request, PlanItemIn)
    item = await add_plan_item(c.session, claim_id=claim_id, actor=c.actor, **body.model_dump())
    return item_reply(item, status=201)


async def patch_plan_item(request: web.Request) -> web.Response:
    """Change an activity: done, outcome, owner, due date, position, wording (If-Match: its ETag)."""
    c = ctx(request)
    item_id = path_id(request, "item_id")
    body = await read_body(request, PlanItemPatch)
    changes = body.model_dump(exclude_unset=True)
    done = changes.pop("done", None)
    for required in ("title", "position", "visible_to_customer"):
        if required in changes and changes[required] is None:
            changes.pop(required)
    item = await change_plan_item(
        c.session, item_id=item_id, actor=c.actor, changes=changes, done=done, if_match=if_match(request)
    )
    return item_reply(item)


async def delete_plan_item(request: web.Request) -> web.Response:
    """Remove an activity (the audit trail keeps it); If-Match: its ETag."""
    c = ctx(request)
    item_id = path_id(request, "item_id")
    await remove_plan_item(c.session, item_id=item_id, actor=c.actor, if_match=if_match(request))
    return reply(None, status=204)


TAGS = ("plan",)
routes = [
    ApiRoute(
        "GET", "/api/v1/claims/{claim_id}/plan", get_plan, Role.OPERATOR, "A claim's plan", response=PlanList, tags=TAGS
    ),
    ApiRoute(
        "POST",
        "/api/v1/claims/{claim_id}/plan",
        add_plan,
        Role.OPERATOR,
        "Add a plan activity",
        body=PlanItemIn,
        response=PlanItemOut,
        status=201,
        errors=(409,),
        tags=TAGS,
    ),
    ApiRoute(
        "PATCH",
        "/api/v1/plan-items/{item_id}",
        patch_plan_item,
        Role.OPERATOR,
        "Change a plan activity",
        body=PlanItemPatch,
        response=PlanItemOut,
        errors=(409, 412, 428),
        headers=("If-Match",),
        tags=TAGS,
    ),
    ApiRoute(
        "DELETE",
        "/api/v1/plan-items/{item_id}",
        delete_plan_item,
        Role.OPERATOR,
        "Remove a plan activity",
        status=204,
        errors=(409, 412, 428),
        headers=("If-Match",),
        tags=TAGS,
    ),
]
