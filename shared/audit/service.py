"""The one way a change is written down, in the caller's transaction: `log_claim_event` for a claim,
`log_customer_event` for an act on a customer's personal data, `log_desk_event` for the desk itself
(catalogs, messages of no claim)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.models import ClaimEvent, CustomerEvent, DeskEvent
from shared.enums import ActorKind


def jsonable(value: Any) -> Any:
    """Values as they are stored in the event's JSON: dates ISO, decimals as strings."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


async def log_claim_event(
    session: AsyncSession,
    *,
    claim_id: int,
    actor: Actor,
    kind: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """One event in the claim's history. Written by an INSERT statement rather than an object
    added to the session: nothing reads the event back in the transaction that writes it, and
    every change of a claim (each customer message among them) writes one."""
    values: dict[str, Any] = {
        "claim_id": claim_id,
        "actor_kind": actor.kind.value,
        "actor_staff_id": actor.id if actor.kind is ActorKind.STAFF else None,
        "actor_customer_id": actor.id if actor.kind is ActorKind.CUSTOMER else None,
        "kind": kind,
        "before": jsonable(before) if before is not None else None,
        "after": jsonable(after) if after is not None else None,
    }
    if at is not None:
        values["at"] = at
    await session.execute(insert(ClaimEvent).values(values))


async def log_customer_event(
    session: AsyncSession,
    *,
    customer_id: int,
    actor: Actor,
    kind: str,
    details: dict[str, Any] | None = None,
) -> CustomerEvent:
    """An act on a customer's personal data (`exported`, `erased`), in the caller's transaction."""
    event = CustomerEvent(
        customer_id=customer_id,
        actor_kind=actor.kind.value,
        actor_staff_id=actor.id if actor.kind is ActorKind.STAFF else None,
        kind=kind,
        details=jsonable(details) if details is not None else None,
    )
    session.add(event)
    await session.flush()
    return event


async def log_desk_event(
    session: AsyncSession, *, actor: Actor, kind: str, details: dict[str, Any] | None = None
) -> DeskEvent:
    event = DeskEvent(
        actor_kind=actor.kind.value,
        actor_staff_id=actor.id if actor.kind is ActorKind.STAFF else None,
        kind=kind,
        details=jsonable(details) if details is not None else None,
    )
    session.add(event)
    await session.flush()
    return event
