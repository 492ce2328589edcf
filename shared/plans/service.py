"""The investigation plan: add, change, complete and remove activities, each with its audit event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.service import log_claim_event
from shared.catalogs.models import Employee
from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus
from shared.clock import utcnow
from shared.errors import Conflict, DomainError, InvalidValue, NotFound, StaleVersion
from shared.notifications.flows import on_plan_change
from shared.plans.models import PlanItem
from shared.text_limits import LONG_TEXT

PLAN_FIELDS = ("title", "details", "owner_id", "due_date", "outcome", "position", "visible_to_customer")


class StalePlanItem(StaleVersion):
    """The plan item's ETag sent in If-Match is not the current one (412)."""

    def __init__(self, expected: str, actual: str) -> None:
        DomainError.__init__(self, "the plan activity was changed by someone else", expected=expected, actual=actual)


def plan_item_etag(item: PlanItem) -> str:
    """A strong ETag from the item's content (plan items carry no version column): any change of a
    field a client can see or set gives another tag."""
    values = [item.id, item.claim_id, *(getattr(item, f) for f in PLAN_FIELDS), item.done_at]
    canonical = json.dumps(
        [
            v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
            for v in values
        ],
        ensure_ascii=False,
    )
    return '"p' + hashlib.sha256(canonical.encode()).hexdigest()[:24] + '"'


def _check_etag(item: PlanItem, if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    current = plan_item_etag(item)
    if if_match.strip().removeprefix("W/") != current:
        raise StalePlanItem(expected=if_match, actual=current)


async def _notify(session: AsyncSession, item: PlanItem, changed: Mapping[str, Any]) -> None:
    # The customer hears about activities marked visible to them.
    await on_plan_change(session, item=item, changed=dict(changed))


async def _open_claim(session: AsyncSession, claim_id: int) -> Claim:
    claim = await session.get(Claim, claim_id)
    if claim is None:
        raise NotFound("claim", claim_id)
    if claim.status == ClaimStatus.CLOSED:
        raise Conflict("the plan of a closed claim cannot change", field="status", key="api.problem.plan.closed")
    return claim


async def _check_owner(session: AsyncSession, owner_id: int | None) -> None:
    if owner_id is None:
        return
    owner = await session.get(Employee, owner_id)
    if owner is None or not owner.active:
        raise InvalidValue(
            "owner_id", f"no active employee with id {owner_id}", key="api.problem.value.no_such", id=owner_id
        )


def _clean(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(PLAN_FIELDS))
    if unknown:
        raise InvalidValue(unknown[0], "is not a plan item field", key="api.problem.value.not_editable")
    clean = dict(changes)
    if "title" in clean:
        title = (clean["title"] or "").strip()
        if not title:
            raise InvalidValue("title", "must not be empty", key="api.problem.value.empty")
        if len(title) > 300:
            raise InvalidValue("title", "longer than 300 characters", key="api.problem.value.too_long", limit=300)
        clean["title"] = title
    for field in ("details", "outcome"):
        if len(clean.get(field) or "") > LONG_TEXT:
            raise InvalidValue(
                field, f"longer than {LONG_TEXT} characters", key="api.problem.value.too_long", limit=LONG_TEXT
            )
    if "due_date" in clean and clean["due_date"] is not None and not isinstance(clean["due_date"], date):
        raise InvalidValue("due_date", "must be a date", key="api.problem.value.date")
    if "position" in clean and (not isinstance(clean["position"], int) or clean["position"] < 0):
        raise InvalidValue("position", "must be a non-negative whole number", key="api.problem.value.position")
    return clean


async def add_plan_item(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    title: str,
    details: str | None = None,
    owner_id: int | None = None,
    due_date: date | None = None,
    visible_to_customer: bool = False,
    at: datetime | None = None,
) -> PlanItem:
    clean = _clean({"title": title, "details": details, "owner_id": owner_id, "due_date": due_date})
    claim = await _open_claim(session, claim_id)
    await _check_owner(session, owner_id)
    position = await session.scalar(
        select(func.coalesce(func.max(PlanItem.position) + 1, 0)).where(PlanItem.claim_id == claim_id)
    )
    item = PlanItem(claim_id=claim.id, position=position, visible_to_customer=visible_to_customer, **clean)
    if at is not None:
        item.created_at = at
    session.add(item)
    await session.flush()
    await log_claim_event(
        session,
        claim_id=claim.id,
        actor=actor,
        kind="plan_item_added",
        after={"plan_item_id": item.id, **clean, "visible_to_customer": visible_to_customer},
        at=at,
    )
    await _notify(session, item, {"visible_to_customer": visible_to_customer})
    return item


async def get_plan_item(session: AsyncSession, *, item_id: int, lock: bool = False) -> PlanItem:
    # `lock`: FOR UPDATE, so a concurrent change waits and then sees (and checks) the new content.
    item = await session.get(PlanItem, item_id, with_for_update=lock or None, populate_existing=lock)
    if item is None:
        raise NotFound("plan_item", item_id)
    return item


async def update_plan_item(
    session: AsyncSession, *, item_id: int, actor: Actor, changes: Mapping[str, Any]
) -> PlanItem:
    clean = _clean(changes)
    item = await get_plan_item(session, item_id=item_id)
    await _open_claim(session, item.claim_id)
    if "owner_id" in clean:
        await _check_owner(session, clean["owner_id"])
    changed = {k: v for k, v in clean.items() if getattr(item, k) != v}
    if not changed:
        return item
    before = {k: getattr(item, k) for k in changed}
    for field, value in changed.items():
        setattr(item, field, value)
    await session.flush()
    await log_claim_event(
        session,
        claim_id=item.claim_id,
        actor=actor,
        kind="plan_item_changed",
        before={"plan_item_id": item.id, **before},
        after={"plan_item_id": item.id, **changed},
    )
    await _notify(session, item, changed)
    return item


async def complete_plan_item(
    session: AsyncSession,
    *,
    item_id: int,
    actor: Actor,
    outcome: str | None = None,
    done: bool = True,
    at: datetime | None = None,
) -> PlanItem:
    """Mark an activity done (with its outcome) or undo that."""
    if len(outcome or "") > LONG_TEXT:
        raise InvalidValue(
            "outcome", f"longer than {LONG_TEXT} characters", key="api.problem.value.too_long", limit=LONG_TEXT
        )
    item = await get_plan_item(session, item_id=item_id)
    await _open_claim(session, item.claim_id)
    before = {"done_at": item.done_at, "outcome": item.outcome}
    if done:
        if item.done_at is not None:
            raise Conflict("this activity is already done", field="done", key="api.problem.plan.done")
        item.done_at = at or utcnow()
        item.outcome = (outcome or "").strip() or item.outcome
    else:
        if item.done_at is None:
            raise Conflict("this activity is not done", field="done", key="api.problem.plan.not_done")
        item.done_at = None
    await session.flush()
    await log_claim_event(
        session,
        claim_id=item.claim_id,
        actor=actor,
        kind="plan_item_done" if done else "plan_item_undone",
        before={"plan_item_id": item.id, **before},
        after={"plan_item_id": item.id, "done_at": item.done_at, "outcome": item.outcome},
        at=at,
    )
    await _notify(session, item, {"done_at": item.done_at})
    return item


async def remove_plan_item(session: AsyncSession, *, item_id: int, actor: Actor, if_match: str | None = None) -> None:
    """`if_match`: the ETag the caller read (`plan_item_etag`); StalePlanItem when it changed since."""
    item = await get_plan_item(session, item_id=item_id, lock=if_match is not None)
    _check_etag(item, if_match)
    await _open_claim(session, item.claim_id)
    before = {"plan_item_id": item.id, **{k: getattr(item, k) for k in PLAN_FIELDS}}
    claim_id = item.claim_id
    await session.delete(item)
    await session.flush()
    await log_claim_event(session, claim_id=claim_id, actor=actor, kind="plan_item_removed", before=before)


async def change_plan_item(
    session: AsyncSession,
    *,
    item_id: int,
    actor: Actor,
    changes: Mapping[str, Any],
    done: bool | None = None,
    at: datetime | None = None,
    if_match: str | None = None,
) -> PlanItem:
    """Edit an activity and, in the same step, mark it done or not done; one audit event.
    `if_match`: the ETag the caller read (`plan_item_etag`); StalePlanItem when it changed since."""
    clean = _clean(changes)
    item = await get_plan_item(session, item_id=item_id, lock=if_match is not None)
    _check_etag(item, if_match)
    await _open_claim(session, item.claim_id)
    if "owner_id" in clean:
        await _check_owner(session, clean["owner_id"])
    if done is not None and done != (item.done_at is not None):
        clean["done_at"] = (at or utcnow()) if done else None
    changed = {k: v for k, v in clean.items() if getattr(item, k) != v}
    if not changed:
        return item
    before = {k: getattr(item, k) for k in changed}
    for field, value in changed.items():
        setattr(item, field, value)
    await session.flush()
    kind = "plan_item_changed"
    if set(changed) <= {"done_at", "outcome"} and "done_at" in changed:
        kind = "plan_item_done" if changed["done_at"] is not None else "plan_item_undone"
    await log_claim_event(
        session,
        claim_id=item.claim_id,
        actor=actor,
        kind=kind,
        before={"plan_item_id": item.id, **before},
        after={"plan_item_id": item.id, **changed},
        at=at,
    )
    await _notify(session, item, changed)
    return item


async def move_plan_item(session: AsyncSession, *, item_id: int, actor: Actor, offset: int) -> PlanItem:
    """Move an activity one place up (offset -1) or down (+1) in its plan: it swaps positions with
    its neighbour; one audit event. At either end of the plan nothing changes."""
    if offset not in (-1, 1):
        raise InvalidValue("offset", "must be -1 or 1", key="api.problem.value.offset")
    item = await get_plan_item(session, item_id=item_id, lock=True)
    await _open_claim(session, item.claim_id)
    order = list(
        (
            await session.scalars(
                select(PlanItem)
                .where(PlanItem.claim_id == item.claim_id)
                .order_by(PlanItem.position, PlanItem.id)
                .with_for_update()
            )
        ).all()
    )
    index = next(i for i, row in enumerate(order) if row.id == item.id)
    target = index + offset
    if not 0 <= target < len(order):
        return item
    order[index], order[target] = order[target], order[index]
    before = {row.id: row.position for row in order}
    # Positions become 0..n-1 in the new order (equal positions left by older data are resolved too).
    for position, row in enumerate(order):
        row.position = position
    await session.flush()
    await log_claim_event(
        session,
        claim_id=item.claim_id,
        actor=actor,
        kind="plan_item_moved",
        before={"plan_item_id": item.id, "position": before[item.id]},
        after={"plan_item_id": item.id, "position": item.position},
    )
    return item
