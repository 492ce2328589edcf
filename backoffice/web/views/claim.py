"""The claim card: the customer, every field editable in place, the status buttons of the allowed
transitions, the conversation as one timeline with the reply box, the record of a call, e-mail or
meeting, the investigation plan and the audit history.

Every form posts to its own route and works as a plain HTML post (303 back to the card); with htmx
the card (`#card`) is swapped in place. A refusal re-renders the card with the message; an edit
of a claim someone changed meanwhile (its version) is refused and says what changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from backoffice.files import save_upload, stream_attachment
from backoffice.web.context import WebContext, wctx
from backoffice.web.directory import Directory, load_directory
from backoffice.web.errors import error_text, field_label
from backoffice.web.history import describe_events
from backoffice.web.render import is_fragment_for, render, see_other
from backoffice.web.routes import WebRoute
from shared.claims.desk import add_staff_interaction, edit_claim
from shared.claims.queries import claim_events, claim_interactions, claim_plan, claim_with_customer
from shared.claims.service import transition
from shared.claims.workflow import OPEN_STATUSES, ClaimResult, allowed_transitions
from shared.clock import local_date, utcnow
from shared.enums import Direction, InteractionChannel, Priority, Remedy, Role
from shared.errors import DomainError, InvalidValue, StaleVersion
from shared.interactions.service import reply_to_customer
from shared.plans.service import add_plan_item, change_plan_item, get_plan_item, move_plan_item, plan_item_etag
from shared.replies.service import create_reply_template, list_reply_templates

TIMELINE_LIMIT = 500
NEAR_DUE = timedelta(hours=24)
MAX_FILES = 10

# The card's editable fields, in form order: (field, kind).
FIELDS: tuple[tuple[str, str], ...] = (
    ("reason_id", "reasons"),
    ("culprit_department_id", "departments"),
    ("culprit_employee_id", "employees"),
    ("responsible_id", "staff"),
    ("priority", "priority"),
    ("due_at", "moment"),
    ("remedy", "remedy"),
    ("remedy_text", "text"),
    ("order_ref", "text"),
    ("amount_claimed", "amount"),
    ("amount_granted", "amount"),
    ("subject", "text"),
)


def claim_path_id(request: web.Request, name: str = "claim_id") -> int:
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise web.HTTPNotFound()
    return int(raw)


def form_value(c: WebContext, claim: Any, name: str, kind: str) -> str:
    """A field's value as its input holds it (and as the form sends it back)."""
    value = getattr(claim, name)
    if value is None:
        return ""
    if kind == "moment":
        return c.fmt.iso_local(value)
    if kind == "amount":
        return c.fmt.amount(value)
    return str(value)


def shown_value(c: WebContext, directory: Directory, claim: Any, name: str, kind: str) -> str:
    """A field's value as a person reads it (the stale-edit notice)."""
    value = getattr(claim, name)
    if value is None or value == "":
        return "—"
    if kind in ("reasons", "departments", "employees", "staff"):
        return directory.name(kind, value)
    if kind == "moment":
        return c.fmt.datetime(value)
    if kind == "amount":
        return c.fmt.money(value, claim.currency)
    if kind == "priority":
        return c.t(f"priority.{value}")
    if kind == "remedy":
        return c.t(f"remedy.{value}")
    return str(value)


def parse_field(c: WebContext, name: str, kind: str, raw: str) -> Any:
    raw = raw.strip()
    if kind in ("reasons", "departments", "employees", "staff"):
        if not raw:
            return None
        if not raw.isascii() or not raw.isdigit():
            raise InvalidValue(name, "not an id")
        return int(raw)
    if kind == "moment":
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidValue(name, "not a date and time") from None
        if not 1900 <= moment.year <= 9998:
            raise InvalidValue(name, "not a date and time")
        return moment.replace(tzinfo=c.settings.tz) if moment.tzinfo is None else moment
    if kind == "amount":
        if not raw:
            return None
        try:
            return Decimal(raw.replace(" ", "").replace("\u00a0", "").replace(",", "."))
        except InvalidOperation:
            raise InvalidValue(name, "not a number") from None
    if kind == "priority":
        return raw or Priority.NORMAL.value
    if kind == "remedy":
        return raw or None
    if name == "subject":
        return raw
    return raw or None


@dataclass
class CardState:
    """What a re-rendered card tells its user beyond the data."""

    error: str | None = None
    notice: str | None = None
    stale: list[tuple[str, str]] = field(default_factory=list)  # (field label, current value)
    reply_text: str = ""


async def card_context(request: web.Request, claim_id: int, state: CardState | None = None) -> dict[str, Any]:
    c = wctx(request)
    claim, customer = await claim_with_customer(c.session, claim_id=claim_id)
    interactions = await claim_interactions(c.session, claim_id=claim_id, limit=TIMELINE_LIMIT)
    plan = await claim_plan(c.session, claim_id=claim_id)
    events = await claim_events(c.session, claim_id=claim_id)
    directory = await load_directory(c.session)
    templates = await list_reply_templates(c.session, language=customer.language)
    now = utcnow()
    today = local_date(now, c.settings.tz)
    is_open = claim.status in OPEN_STATUSES
    chosen_template = request.query.get("template")
    reply_text = (state.reply_text if state else "") or next(
        (tpl.body for tpl in templates if str(tpl.id) == chosen_template), ""
    )
    assert c.user is not None
    return {
        "claim": claim,
        "customer": customer,
        "interactions": interactions,
        "plan": [
            {
                "item": item,
                "etag": plan_item_etag(item),
                "overdue": item.done_at is None and item.due_date is not None and item.due_date < today,
            }
            for item in plan
        ],
        "history": describe_events(events, directory, c, claim.currency),
        "directory": directory,
        "templates": templates,
        "values": {name: form_value(c, claim, name, kind) for name, kind in FIELDS},
        "transitions": [s.value for s in allowed_transitions(claim.status)],
        "results": [r.value for r in ClaimResult],
        "priorities": [p.value for p in Priority],
        "remedies": [r.value for r in Remedy],
        "channels": [InteractionChannel.PHONE.value, InteractionChannel.EMAIL.value, InteractionChannel.MEETING.value],
        "overdue": is_open and claim.due_at is not None and claim.due_at < now,
        "near_due": is_open and claim.due_at is not None and now <= claim.due_at < now + NEAR_DUE,
        "may_reassign": c.has_role(Role.MANAGER),
        "state": state or CardState(),
        "reply_text": reply_text,
        "now_local": c.fmt.iso_local(now),
        "closed": claim.status == "closed",
    }


async def render_card(request: web.Request, claim_id: int, state: CardState | None = None, status: int = 200):
    context = await card_context(request, claim_id, state)
    if is_fragment_for(request, "card"):
        return render(request, "claim_card.html", context, status=status)
    if is_fragment_for(request, "timeline"):
        return render(request, "claim_timeline.html", context, status=status)
    return render(request, "claim.html", context, status=status)


async def card(request: web.Request) -> web.Response:
    return await render_card(request, claim_path_id(request))


async def _done(request: web.Request, claim_id: int, notice: str | None = None) -> web.Response:
    """After a successful change: the card again (htmx), or a redirect to it (a plain post)."""
    if wctx(request).htmx:
        return await render_card(request, claim_id, CardState(notice=notice))
    return see_other(request, f"/claims/{claim_id}")


async def _refused(request: web.Request, claim_id: int, exc: DomainError, **extra: Any) -> web.Response:
    c = wctx(request)
    await c.rollback()  # nothing of the refused step is kept; the card shows what is stored
    status = 409 if isinstance(exc, StaleVersion) else 422
    return await render_card(request, claim_id, CardState(error=error_text(c.t, exc), **extra), status=status)


def _version(form: MultiDictProxy[Any]) -> int | None:
    raw = str(form.get("version", ""))
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


async def save_fields(request: web.Request) -> web.Response:
    """Only the fields the user changed are sent to the service, with the version the form was read
    at: when someone changed the claim meanwhile nothing is saved, and the card says what changed."""
    c = wctx(request)
    claim_id = claim_path_id(request)
    form = await request.post()
    version = _version(form)
    if version is None:
        raise web.HTTPBadRequest()
    changes: dict[str, Any] = {}
    try:
        for name, kind in FIELDS:
            if name not in form:
                continue
            sent, original = str(form.get(name, "")), str(form.get(f"orig_{name}", ""))
            if sent.strip() != original.strip():
                changes[name] = parse_field(c, name, kind, sent)
        if changes:
            await edit_claim(
                c.session,
                claim_id=claim_id,
                actor=c.actor,
                changes=changes,
                expected_version=version,
                may_reassign=c.has_role(Role.MANAGER),
            )
    except StaleVersion as exc:
        await c.rollback()
        claim, _ = await claim_with_customer(c.session, claim_id=claim_id)
        directory = await load_directory(c.session)
        stale = [
            (field_label(c.t, name), shown_value(c, directory, claim, name, kind))
            for name, kind in FIELDS
            if f"orig_{name}" in form and str(form.get(f"orig_{name}", "")).strip() != form_value(c, claim, name, kind)
        ]
        return await _refused(request, claim_id, exc, stale=stale)
    except DomainError as exc:
        return await _refused(request, claim_id, exc)
    return await _done(request, claim_id, c.t("web.card.saved") if changes else None)


async def change_status(request: web.Request) -> web.Response:
    c = wctx(request)
    claim_id = claim_path_id(request)
    form = await request.post()
    try:
        granted = str(form.get("amount_granted", "")).strip()
        await transition(
            c.session,
            claim_id=claim_id,
            to=str(form.get("to", "")),
            actor=c.actor,
            result=str(form.get("result", "")) or None,
            resolution=str(form.get("resolution", "")) or None,
            amount_granted=parse_field(c, "amount_granted", "amount", granted) if granted else None,
            expected_version=_version(form),
        )
    except StaleVersion as exc:
        return await _refused(request, claim_id, exc)
    except DomainError as exc:
        return await _refused(request, claim_id, exc)
    return await _done(request, claim_id, c.t("web.card.status_changed"))


async def send_reply(request: web.Request) -> web.Response:
    """A reply to the customer in Telegram (queued for the delivery worker), with files; optionally
    saved as a reply template of the customer's language."""
    c = wctx(request)
    claim_id = claim_path_id(request)
    form = await request.post()
    text = str(form.get("text", ""))
    uploads = [f for f in form.getall("files", []) if isinstance(f, web.FileField) and f.filename]
    try:
        if len(uploads) > MAX_FILES:
            raise InvalidValue("files", f"at most {MAX_FILES} files")
        attachments = [save_upload(c.settings, upload) for upload in uploads]
        await reply_to_customer(
            c.session, claim_id=claim_id, actor=c.actor, text=text, author_id=c.actor.id, attachments=attachments
        )
        title = str(form.get("template_title", "")).strip()
        if title:
            _, customer = await claim_with_customer(c.session, claim_id=claim_id)
            await create_reply_template(c.session, actor=c.actor, language=customer.language, title=title, body=text)
    except DomainError as exc:
        return await _refused(request, claim_id, exc, reply_text=text)
    return await _done(request, claim_id, c.t("web.card.reply_queued"))


async def record_interaction(request: web.Request) -> web.Response:
    """A call, an e-mail or a meeting with the customer or another party, or an internal note."""
    c = wctx(request)
    claim_id = claim_path_id(request)
    form = await request.post()
    channel = str(form.get("channel", ""))
    try:
        if channel not in {ch.value for ch in InteractionChannel} or channel == InteractionChannel.TELEGRAM.value:
            raise InvalidValue("channel", "choose a call, an e-mail, a meeting or a note")
        direction = str(form.get("direction", "")) or None
        occurred = str(form.get("occurred_at", "")).strip()
        if occurred == str(form.get("occurred_default", "")).strip():
            occurred = ""  # left as the form offered it: now, to the second (the timeline's order)
        await add_staff_interaction(
            c.session,
            claim_id=claim_id,
            actor=c.actor,
            channel=InteractionChannel(channel),
            text=str(form.get("text", "")),
            direction=Direction(direction) if direction in {d.value for d in Direction} else None,
            counterpart_name=str(form.get("counterpart_name", "")).strip()[:200] or None,
            counterpart_role=str(form.get("counterpart_role", "")).strip()[:100] or None,
            occurred_at=parse_field(c, "occurred_at", "moment", occurred) if occurred else None,
        )
    except DomainError as exc:
        return await _refused(request, claim_id, exc)
    return await _done(request, claim_id, c.t("web.card.recorded"))


async def add_plan(request: web.Request) -> web.Response:
    c = wctx(request)
    claim_id = claim_path_id(request)
    form = await request.post()
    try:
        owner = str(form.get("owner_id", ""))
        due = str(form.get("due_date", "")).strip()
        try:
            due_date = date.fromisoformat(due) if due else None
        except ValueError:
            raise InvalidValue("due_date", "not a date") from None
        await add_plan_item(
            c.session,
            claim_id=claim_id,
            actor=c.actor,
            title=str(form.get("title", "")),
            details=str(form.get("details", "")).strip() or None,
            owner_id=parse_field(c, "owner_id", "employees", owner),
            due_date=due_date,
            visible_to_customer=form.get("visible_to_customer") == "1",
        )
    except DomainError as exc:
        return await _refused(request, claim_id, exc)
    return await _done(request, claim_id)


async def plan_item_action(request: web.Request) -> web.Response:
    """Mark an activity done (with its outcome) or not done, or move it up or down."""
    c = wctx(request)
    item_id = claim_path_id(request, "item_id")
    item = await get_plan_item(c.session, item_id=item_id)
    claim_id = item.claim_id
    form = await request.post()
    action = request.match_info["action"]
    try:
        if action in ("done", "undone"):
            changes = {"outcome": str(form.get("outcome", "")).strip() or None} if action == "done" else {}
            if action == "done" and changes["outcome"] is None:
                changes = {}
            await change_plan_item(
                c.session,
                item_id=item_id,
                actor=c.actor,
                changes=changes,
                done=action == "done",
                if_match=str(form.get("etag", "")) or None,
            )
        elif action in ("up", "down"):
            await move_plan_item(c.session, item_id=item_id, actor=c.actor, offset=-1 if action == "up" else 1)
        else:
            raise web.HTTPNotFound()
    except DomainError as exc:
        return await _refused(request, claim_id, exc)
    return await _done(request, claim_id)


async def attachment_file(request: web.Request) -> web.StreamResponse:
    """A claim's file: photos shown in the page, everything else downloaded (sandbox mode too: the
    back-office fetches it from the local Bot API emulator when BOT_TOKEN is unset)."""
    c = wctx(request)
    return await stream_attachment(
        request,
        claim_path_id(request, "attachment_id"),
        session=c.session,
        settings=c.settings,
        inline=request.query.get("download") != "1",
    )


routes = [
    WebRoute("GET", "/claims/{claim_id}", card),
    WebRoute("POST", "/claims/{claim_id}/fields", save_fields),
    WebRoute("POST", "/claims/{claim_id}/status", change_status),
    WebRoute("POST", "/claims/{claim_id}/reply", send_reply),
    WebRoute("POST", "/claims/{claim_id}/interactions", record_interaction),
    WebRoute("POST", "/claims/{claim_id}/plan", add_plan),
    WebRoute("POST", "/plan-items/{item_id}/{action}", plan_item_action),
    WebRoute("GET", "/files/{attachment_id}", attachment_file),
]
