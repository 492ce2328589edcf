"""A claim's interactions (customer messages, staff replies, calls, e-mails, meetings, notes) and
the files attached to them."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import Field

from backoffice.api import ApiRoute
from backoffice.api.http import Body, Moment, Out, Query, Text, path_id, read_body, read_query, reply
from backoffice.context import ctx
from backoffice.files import stream_attachment
from shared.claims.desk import add_staff_interaction
from shared.claims.queries import claim_interactions
from shared.enums import AttachmentKind, DeliveryState, Direction, FileRemoval, InteractionChannel, Role
from shared.text_limits import LONG_TEXT


class AttachmentOut(Out):
    id: int
    kind: AttachmentKind
    file_name: str | None
    mime_type: str | None
    size: int | None
    url: str
    removed_at: datetime | None = Field(default=None, description="the file is gone (the row stays)")
    removed_reason: FileRemoval | None = Field(default=None, description="expired (retention) or erased")


class InteractionOut(Out):
    id: int
    claim_id: int | None
    direction: Direction
    channel: InteractionChannel
    text: str
    author_id: int | None
    counterpart_name: str | None
    counterpart_role: str | None
    occurred_at: datetime
    delivery_state: DeliveryState | None
    delivery_error: str | None
    delivered_at: datetime | None
    edit_of_id: int | None
    attachments: list[AttachmentOut]


class InteractionList(Out):
    items: list[InteractionOut]


class InteractionQuery(Query):
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class InteractionIn(Body):
    channel: InteractionChannel = Field(description="telegram queues a reply to the customer")
    text: Text = Field(min_length=1, max_length=LONG_TEXT)
    direction: Direction | None = Field(default=None, description="phone/email/meeting: inbound or outbound")
    counterpart_name: Text | None = Field(default=None, max_length=200)
    counterpart_role: Text | None = Field(default=None, max_length=100)
    occurred_at: Moment | None = None


def interaction_out(row: object) -> InteractionOut:
    out = InteractionOut.model_validate(
        {
            **{k: getattr(row, k) for k in InteractionOut.model_fields if k != "attachments"},
            "attachments": [
                AttachmentOut.model_validate(
                    {
                        **{
                            k: getattr(a, k)
                            for k in ("id", "kind", "file_name", "mime_type", "size", "removed_at", "removed_reason")
                        },
                        "url": f"/api/v1/attachments/{a.id}",
                    }
                )
                for a in row.attachments  # type: ignore[attr-defined]
            ],
        }
    )
    return out


async def list_interactions(request: web.Request) -> web.Response:
    """Everything said about a claim, oldest first."""
    c = ctx(request)
    query = read_query(request, InteractionQuery)
    rows = await claim_interactions(
        c.session, claim_id=path_id(request, "claim_id"), limit=query.limit, offset=query.offset
    )
    return reply(InteractionList(items=[interaction_out(r) for r in rows]))


async def add_interaction(request: web.Request) -> web.Response:
    """Reply on Telegram (queued for delivery) or record a call, e-mail, meeting or note."""
    c = ctx(request)
    claim_id = path_id(request, "claim_id")
    body = await read_body(request, InteractionIn)
    row = await add_staff_interaction(
        c.session,
        claim_id=claim_id,
        actor=c.actor,
        channel=body.channel,
        text=body.text,
        direction=body.direction,
        counterpart_name=body.counterpart_name,
        counterpart_role=body.counterpart_role,
        occurred_at=body.occurred_at,
    )
    await c.session.refresh(row, ["attachments"])
    return reply(interaction_out(row), status=201)


async def get_attachment_file(request: web.Request) -> web.StreamResponse:
    """The file, fetched through the Bot API once and then served from the disk cache."""
    c = ctx(request)
    return await stream_attachment(request, path_id(request, "attachment_id"), session=c.session, settings=c.settings)


routes = [
    ApiRoute(
        "GET",
        "/api/v1/claims/{claim_id}/interactions",
        list_interactions,
        Role.OPERATOR,
        "A claim's interactions",
        query=InteractionQuery,
        response=InteractionList,
        tags=("interactions",),
    ),
    ApiRoute(
        "POST",
        "/api/v1/claims/{claim_id}/interactions",
        add_interaction,
        Role.OPERATOR,
        "Reply or record an interaction",
        body=InteractionIn,
        response=InteractionOut,
        status=201,
        errors=(409,),
        tags=("interactions",),
    ),
    ApiRoute(
        "GET",
        "/api/v1/attachments/{attachment_id}",
        get_attachment_file,
        Role.OPERATOR,
        "Download an attachment",
        content_type="application/octet-stream",
        errors=(410, 502, 503),
        tags=("interactions",),
    ),
]
