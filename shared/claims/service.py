"""Claim services: register, assign, update, transition, record satisfaction.

Every function takes the caller's session, checks everything before it changes anything (so a
refused call leaves no trace even if the caller commits), writes exactly one audit event, and
never commits: the middleware that opened the session does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.service import log_claim_event
from shared.catalogs.models import Department, Employee, Reason
from shared.claims.models import Claim
from shared.claims.numbering import next_claim_number, reserve_claim_number
from shared.claims.workflow import (
    ClaimResult,
    ClaimStatus,
    allowed_transitions,
    can_transition,
    is_reopening,
    needs_result,
)
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.enums import ActorKind, Channel, Priority, Remedy, Role
from shared.errors import Conflict, InvalidValue, NotAllowed, NotFound, StaleVersion, TransitionRefused
from shared.live import notify_live
from shared.metrics import CLAIMS_REGISTERED, count_after_commit
from shared.notifications import flows, staff_alerts
from shared.settings import get_settings
from shared.staff.models import StaffUser
from shared.text_limits import LONG_TEXT, SUBJECT

SUBJECT_LENGTH = 120
# How far ahead a due date may be moved: further would take the claim out of overdue tracking.
DUE_HORIZON = timedelta(days=366)
DUE_REASON_LENGTH = 500

ASSIGNMENT_FIELDS = ("reason_id", "culprit_department_id", "culprit_employee_id", "responsible_id")
EDITABLE_FIELDS = (
    *ASSIGNMENT_FIELDS,
    "priority",
    "due_at",
    "subject",
    "description",
    "remedy",
    "remedy_text",
    "order_ref",
    "amount_claimed",
    "amount_granted",
    "currency",
)


@dataclass(frozen=True, slots=True)
class NewClaim:
    """What registering a claim needs; the edges build it from a wizard, a form or a CSV row."""

    customer_id: int
    description: str
    channel: Channel = Channel.TELEGRAM
    subject: str | None = None
    remedy: Remedy | None = None
    remedy_text: str | None = None
    order_ref: str | None = None
    amount_claimed: Decimal | None = None
    currency: str | None = None
    priority: Priority = Priority.NORMAL
    reason_id: int | None = None
    culprit_department_id: int | None = None
    culprit_employee_id: int | None = None
    responsible_id: int | None = None
    registered_at: datetime | None = None
    number: str | None = None


def subject_from(description: str) -> str:
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    if len(first_line) <= SUBJECT_LENGTH:
        return first_line
    return first_line[: SUBJECT_LENGTH - 1].rstrip() + "…"


def snapshot(claim: Claim, fields: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {name: getattr(claim, name) for name in fields}


async def get_claim(session: AsyncSession, *, claim_id: int, for_update: bool = False) -> Claim:
    query = select(Claim).where(Claim.id == claim_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    claim = await session.scalar(query)
    if claim is None:
        raise NotFound("claim", claim_id)
    return claim


async def get_customer_claim(session: AsyncSession, *, claim_id: int, customer_id: int) -> Claim:
    """A claim as its own customer may see it; anyone else's claim is simply 'not found'."""
    claim = await session.scalar(select(Claim).where(Claim.id == claim_id, Claim.customer_id == customer_id))
    if claim is None:
        raise NotFound("claim", claim_id)
    return claim


def _check_version(claim: Claim, expected_version: int | None) -> None:
    if expected_version is not None and claim.version != expected_version:
        raise StaleVersion("claim", expected_version, claim.version)


def _text(field: str, value: str | None, *, required: bool = False, limit: int = LONG_TEXT) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidValue(field, "must not be empty", key="api.problem.value.empty")
        return None
    if len(value) > limit:
        raise InvalidValue(field, f"longer than {limit} characters", key="api.problem.value.too_long", limit=limit)
    return value.strip()


def _amount(field: str, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidValue(field, "not a number", key="api.problem.value.not_number") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise InvalidValue(field, "must be a non-negative amount below 10^12", key="api.problem.value.amount")
    return amount.quantize(Decimal("0.01"))


def _choice(field: str, value: Any, choices: type[Channel] | type[Remedy] | type[Priority]) -> str:
    try:
        return choices(value).value
    except ValueError:
        raise InvalidValue(
            field,
            f"must be one of {', '.join(choices)}",
            key="api.problem.value.one_of",
            choices=list(choices),
        ) from None


def _currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise InvalidValue("currency", "must be a three-letter currency code", key="api.problem.value.currency")
    return value.upper()


async def _check_refs(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Every referenced catalog entry must exist and be active, else nothing is changed."""
    models: dict[str, type[Department] | type[Employee] | type[Reason] | type[StaffUser]] = {
        "reason_id": Reason,
        "culprit_department_id": Department,
        "culprit_employee_id": Employee,
        "responsible_id": StaffUser,
    }
    for field, model in models.items():
        ident = values.get(field)
        if ident is None:
            continue
        row = await session.get(model, ident)
        if row is None:
            raise InvalidValue(
                field,
                f"no {model.__tablename__} with id {ident}",
                key="api.problem.value.no_such",
                id=ident,
            )
        if not row.active:
            raise InvalidValue(
                field,
                f"{model.__tablename__} {ident} is deactivated",
                key="api.problem.value.inactive",
                id=ident,
            )


async def register_claim(
    session: AsyncSession, *, claim_in: NewClaim, actor: Actor, due_in: timedelta | None = None
) -> Claim:
    settings = get_settings()
    description = _text("description", claim_in.description, required=True)
    assert description is not None
    customer = await session.get(Customer, claim_in.customer_id)
    if customer is None:
        raise InvalidValue(
            "customer_id",
            f"no customer with id {claim_in.customer_id}",
            key="api.problem.value.no_such",
            id=claim_in.customer_id,
        )
    refs = {name: getattr(claim_in, name) for name in ASSIGNMENT_FIELDS}
    await _check_refs(session, refs)
    # Everything is checked before a number is taken: a refused registration must not use one up.
    fields = {
        "channel": _choice("channel", claim_in.channel, Channel),
        "subject": _text("subject", claim_in.subject, limit=SUBJECT) or subject_from(description),
        "description": description,
        "remedy": _choice("remedy", claim_in.remedy, Remedy) if claim_in.remedy else None,
        "remedy_text": _text("remedy_text", claim_in.remedy_text),
        "order_ref": _text("order_ref", claim_in.order_ref, limit=100),
        "amount_claimed": _amount("amount_claimed", claim_in.amount_claimed),
        "currency": _currency(claim_in.currency or settings.currency),
        "priority": _choice("priority", claim_in.priority, Priority),
    }
    registered_at = claim_in.registered_at or utcnow()

    if claim_in.number is not None:
        if await session.scalar(select(Claim.id).where(Claim.number == claim_in.number)):
            raise Conflict(
                f"claim number {claim_in.number} is taken",
                field="number",
                key="api.problem.claim.number_taken",
                number=claim_in.number,
            )
        await reserve_claim_number(session, number=claim_in.number)
        number = claim_in.number
    else:
        number = await next_claim_number(session, year=registered_at.astimezone(settings.tz).year)

    claim = Claim(
        number=number,
        customer_id=customer.id,
        status=ClaimStatus.NEW.value,
        registered_at=registered_at,
        due_at=registered_at + (due_in or timedelta(hours=settings.sla_resolution_hours)),
        **fields,
        **refs,
    )
    session.add(claim)
    await session.flush()
    await log_claim_event(
        session,
        claim_id=claim.id,
        actor=actor,
        kind="registered",
        after={"number": number, "status": claim.status, "channel": claim.channel},
        at=registered_at,
    )
    await flows.on_registered(session, claim=claim, actor=actor)
    if claim.responsible_id is not None:
        await staff_alerts.on_assigned(session, claim=claim, actor=actor)
    await notify_live(session, kind="claim", customer_id=claim.customer_id, claim_id=claim.id)
    count_after_commit(session, CLAIMS_REGISTERED.labels(claim.channel))
    return claim


async def acts_as_manager(session: AsyncSession, actor: Actor) -> bool:
    """A manager or an admin, or the system itself (the command line, imports)."""
    if actor.kind is ActorKind.SYSTEM:
        return True
    if not actor.is_staff or actor.id is None:
        return False
    staff = await session.get(StaffUser, actor.id)
    return staff is not None and Role(staff.role).at_least(Role.MANAGER)


async def _check_manager_fields(
    session: AsyncSession, claim: Claim, actor: Actor, changed: Mapping[str, Any], due_reason: str | None
) -> str | None:
    """The amount granted is set when resolving, or by a manager; the due date is moved by a
    manager who says why, to a moment the overdue tracking still sees. Returns the reason."""
    if "amount_granted" not in changed and "due_at" not in changed:
        return None
    manager = await acts_as_manager(session, actor)
    if "amount_granted" in changed and not manager:
        raise NotAllowed(
            "the amount granted is set when resolving the claim, or by a manager",
            key="api.problem.amount_granted_manager",
            field="amount_granted",
        )
    if "due_at" not in changed:
        return None
    if not manager:
        raise NotAllowed("only a manager moves a claim's due date", key="api.problem.due_at_manager", field="due_at")
    due_at = changed["due_at"]
    if due_at is None:
        raise InvalidValue("due_at", "a claim keeps a due date", key="api.problem.due_at_required")
    if due_at < claim.registered_at or due_at > max(utcnow(), claim.registered_at) + DUE_HORIZON:
        raise InvalidValue(
            "due_at",
            f"must be after the registration and at most {DUE_HORIZON.days} days ahead",
            key="api.problem.due_at_range",
        )
    reason = _text("due_reason", due_reason, limit=DUE_REASON_LENGTH)
    if reason is None:
        raise InvalidValue("due_reason", "moving the due date needs a reason", key="api.problem.due_reason_required")
    return reason


async def update_claim(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    changes: Mapping[str, Any],
    expected_version: int | None = None,
    kind: str = "updated",
    due_reason: str | None = None,
) -> Claim:
    """Change a claim's editable fields (triage, amounts, wording); one 'updated' event.

    Setting the amount granted (outside a decision) and moving the due date are a manager's
    changes; a moved due date needs `due_reason`, kept in the event with the change."""
    unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidValue(unknown[0], "cannot be changed this way", key="api.problem.value.not_editable")
    claim = await get_claim(session, claim_id=claim_id, for_update=True)
    _check_version(claim, expected_version)
    if claim.status == ClaimStatus.CLOSED:
        raise Conflict("a closed claim cannot be changed", field="status", key="api.problem.claim.closed")

    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if field in ASSIGNMENT_FIELDS:
            clean[field] = value
        elif field in ("amount_claimed", "amount_granted"):
            clean[field] = _amount(field, value)
        elif field == "priority":
            clean[field] = _choice(field, value, Priority)
        elif field == "remedy":
            clean[field] = _choice(field, value, Remedy) if value else None
        elif field == "subject":
            clean[field] = _text(field, value, required=True, limit=SUBJECT)
        elif field == "description":
            clean[field] = _text(field, value, required=True)
        elif field == "currency":
            clean[field] = _currency(value)
        elif field == "due_at":
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidValue(field, "must be a date and time with its time zone", key="api.problem.value.no_zone")
            clean[field] = value
        else:
            clean[field] = _text(field, value)
    await _check_refs(session, {k: v for k, v in clean.items() if k in ASSIGNMENT_FIELDS})

    # An employee belongs to a department: naming the culprit employee names their department
    # too, unless the caller chose a department in the same request.
    if clean.get("culprit_employee_id") is not None and "culprit_department_id" not in clean:
        employee = await session.get(Employee, clean["culprit_employee_id"])
        if employee is not None and employee.department_id is not None and claim.culprit_department_id is None:
            clean["culprit_department_id"] = employee.department_id

    changed = {k: v for k, v in clean.items() if getattr(claim, k) != v}
    if not changed:
        return claim
    reason = await _check_manager_fields(session, claim, actor, changed, due_reason)
    before = snapshot(claim, list(changed))
    for field, value in changed.items():
        setattr(claim, field, value)
    await session.flush()
    after = {**changed, "due_reason": reason} if reason is not None else changed
    await log_claim_event(session, claim_id=claim.id, actor=actor, kind=kind, before=before, after=after)
    if changed.get("responsible_id") is not None:
        await staff_alerts.on_assigned(session, claim=claim, actor=actor)
    return claim


async def assign(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    expected_version: int | None = None,
    **assignment: int | None,
) -> Claim:
    """Set the reason, the culprit department and employee and the responsible staff user."""
    unknown = sorted(set(assignment) - set(ASSIGNMENT_FIELDS))
    if unknown:
        raise InvalidValue(unknown[0], "is not an assignment field", key="api.problem.value.not_editable")
    return await update_claim(
        session,
        claim_id=claim_id,
        actor=actor,
        changes=assignment,
        expected_version=expected_version,
        kind="assigned",
    )


async def transition(
    session: AsyncSession,
    *,
    claim_id: int,
    to: ClaimStatus | str,
    actor: Actor,
    result: ClaimResult | str | None = None,
    resolution: str | None = None,
    amount_granted: Decimal | str | None = None,
    expected_version: int | None = None,
    at: datetime | None = None,
    audit: bool = True,
) -> Claim:
    """`audit=False`: the caller writes the one audit event of its own call (e.g. `disputed`)."""
    try:
        target = ClaimStatus(to)
    except ValueError:
        raise InvalidValue(
            "to",
            f"must be one of {', '.join(ClaimStatus)}",
            key="api.problem.value.one_of",
            choices=list(ClaimStatus),
        ) from None
    claim = await get_claim(session, claim_id=claim_id, for_update=True)
    _check_version(claim, expected_version)
    current = ClaimStatus(claim.status)
    if not can_transition(current, target):
        raise TransitionRefused(current.value, target.value, [s.value for s in allowed_transitions(current)])

    outcome: ClaimResult | None = None
    text: str | None = None
    granted = _amount("amount_granted", amount_granted)
    if needs_result(target):
        if result is None or result == "":
            raise InvalidValue(
                "result",
                f"resolving needs a result: {', '.join(ClaimResult)}",
                key="api.problem.claim.result_needed",
                choices=list(ClaimResult),
            )
        try:
            outcome = ClaimResult(result)
        except ValueError:
            raise InvalidValue(
                "result",
                f"must be one of {', '.join(ClaimResult)}",
                key="api.problem.value.one_of",
                choices=list(ClaimResult),
            ) from None
        text = _text("resolution", resolution, required=True)
    elif result is not None:
        raise InvalidValue(
            "result", "is given only when a claim is resolved", key="api.problem.claim.result_on_resolve"
        )
    elif granted is not None:
        raise InvalidValue(
            "amount_granted", "is given only when a claim is resolved", key="api.problem.amount_granted_on_resolve"
        )

    now = at or utcnow()
    fields = ["status", "result", "resolution", "resolved_at", "closed_at"]
    if granted is not None:
        fields.append("amount_granted")
    before = snapshot(claim, fields)
    claim.status = target.value
    if target is ClaimStatus.RESOLVED:
        claim.result = outcome.value if outcome else None
        claim.resolution = text
        claim.resolved_at = now
        if granted is not None:
            claim.amount_granted = granted
    elif target is ClaimStatus.CLOSED:
        claim.closed_at = now
    elif is_reopening(current, target):
        # The earlier decision no longer stands; its text and result stay in the audit trail.
        claim.result = None
        claim.resolved_at = None
    await session.flush()
    after = {k: v for k, v in snapshot(claim, fields).items() if before[k] != v}
    if audit:
        await log_claim_event(
            session,
            claim_id=claim.id,
            actor=actor,
            kind="reopened" if is_reopening(current, target) else "status_changed",
            before={k: before[k] for k in after},
            after=after,
            at=now,
        )
    # What the customer is told about it (and its buttons) is written in this same transaction; a
    # change staff made, once delivered, may be the claim's first response (see response_delivered).
    await flows.on_transition(session, claim=claim, previous=current, actor=actor)
    return claim


async def record_satisfaction(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    score: int,
    comment: str | None = None,
    at: datetime | None = None,
) -> Claim:
    """The customer's rating of how the claim was handled: once, after the claim is closed."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidValue("score", "must be a whole number from 1 to 5", key="api.problem.rating.score")
    clean_comment = _text("comment", comment)
    claim = await get_claim(session, claim_id=claim_id, for_update=True)
    if claim.status != ClaimStatus.CLOSED:
        raise Conflict("only a closed claim can be rated", field="status", key="api.problem.rating.not_closed")
    if claim.satisfaction_score is not None:
        raise Conflict("this claim has already been rated", field="score", key="api.problem.rating.already")
    claim.satisfaction_score = score
    claim.satisfaction_comment = clean_comment
    claim.satisfaction_at = at or utcnow()
    await session.flush()
    await log_claim_event(
        session,
        claim_id=claim.id,
        actor=actor,
        kind="rated",
        after={"score": score, "comment": clean_comment},
        at=claim.satisfaction_at,
    )
    await flows.on_rated(session, claim=claim)
    return claim


async def add_satisfaction_comment(session: AsyncSession, *, claim_id: int, actor: Actor, comment: str) -> Claim:
    """The comment that may follow a rating: once, and only after the score."""
    clean_comment = _text("comment", comment, required=True)
    claim = await get_claim(session, claim_id=claim_id, for_update=True)
    if claim.satisfaction_score is None:
        raise Conflict("rate the claim before commenting", field="score", key="api.problem.rating.comment_first")
    if claim.satisfaction_comment:
        raise Conflict("this claim already has a comment", field="comment", key="api.problem.rating.comment_already")
    claim.satisfaction_comment = clean_comment
    await session.flush()
    await log_claim_event(
        session, claim_id=claim.id, actor=actor, kind="rating_commented", after={"comment": clean_comment}
    )
    return claim
