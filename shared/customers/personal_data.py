"""A customer's personal data on request (152-FZ, GDPR): everything stored about them as one JSON
document, and its erasure.

Erasure anonymises rather than deletes: the customer's row, their claims, messages and files stay
as records, but every word and every way to reach them is gone for good: names, contacts, Telegram
ids, the texts of the claims, of every message on them and of their plan, the texts kept in the
claims' audit trail, the files (deleted from the disk cache, their Telegram ids cleared) and the
outbox's copies of what was sent to them. What the reports count stays: dates, statuses, results,
amounts, reasons, departments, employees, responsible staff, channels, ratings' scores.

Both acts are written to the customer's audit trail (`customer_event`: who, when). Like every
service these never commit; erasure deletes the files last, once everything else is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy import inspect as orm_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.actors import Actor
from shared.audit.models import ClaimEvent, CustomerEvent
from shared.audit.service import jsonable, log_customer_event
from shared.bot_state.models import FsmRecord
from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.enums import FileRemoval
from shared.errors import Conflict, NotFound
from shared.i18n import get_translator
from shared.interactions.attachment_files import delete_files, files_on_disk, forget_file
from shared.interactions.models import Attachment, Interaction
from shared.outbox.models import OutboxMessage
from shared.plans.models import PlanItem
from shared.settings import get_settings

log = logging.getLogger(__name__)

EXPORT_FORMAT = "claimdesk.personal-data.v1"
# The texts the claims' audit trail keeps (before/after values of changes, a dispute's reason, a
# rating's comment, a moved due date's reason): replaced on erasure like the texts themselves.
EVENT_TEXT_KEYS = frozenset(
    {
        "subject",
        "description",
        "remedy_text",
        "order_ref",
        "resolution",
        "comment",
        "reason",
        "due_reason",
        "text",
        "title",
        "details",
        "outcome",
    }
)


def _record(row: Any) -> dict[str, Any]:
    """Every stored column of a mapped row (not the derived ones: search vectors, hours), as JSON."""
    mapper = orm_inspect(row).mapper
    return {attr.key: jsonable(getattr(row, attr.key)) for attr in mapper.column_attrs if not attr.deferred}


async def _customer(session: AsyncSession, customer_id: int, *, for_update: bool = False) -> Customer:
    query = select(Customer).where(Customer.id == customer_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    customer = await session.scalar(query)
    if customer is None:
        raise NotFound("customer", customer_id)
    return customer


def _theirs(customer_id: int, claim_ids: Sequence[int]) -> Any:
    """Interactions that concern the customer: theirs, or on their claims."""
    return or_(Interaction.customer_id == customer_id, Interaction.claim_id.in_(claim_ids))


# ---------------------------------------------------------------------- export
async def export_personal_data(
    session: AsyncSession, *, customer_id: int, actor: Actor, source: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Everything stored about the customer: their record, claims, messages (with their files'
    details), plan items, ratings and the audit events that concern them. The export itself is
    recorded (who, when) in the customer's audit trail; `source` says more about who asked when
    the actor is the system (the command line and the operating-system user who ran it)."""
    customer = await _customer(session, customer_id)
    claims = (
        await session.scalars(select(Claim).where(Claim.customer_id == customer_id).order_by(Claim.registered_at))
    ).all()
    claim_ids = [c.id for c in claims]
    interactions = (
        await session.scalars(
            select(Interaction)
            .where(_theirs(customer_id, claim_ids))
            .options(selectinload(Interaction.attachments))
            .order_by(Interaction.occurred_at, Interaction.id)
        )
    ).all()
    plan = (
        await session.scalars(
            select(PlanItem).where(PlanItem.claim_id.in_(claim_ids)).order_by(PlanItem.claim_id, PlanItem.position)
        )
    ).all()
    claim_events = (
        await session.scalars(
            select(ClaimEvent)
            .where(or_(ClaimEvent.claim_id.in_(claim_ids), ClaimEvent.actor_customer_id == customer_id))
            .order_by(ClaimEvent.at, ClaimEvent.id)
        )
    ).all()
    customer_events = (
        await session.scalars(
            select(CustomerEvent)
            .where(CustomerEvent.customer_id == customer_id)
            .order_by(CustomerEvent.at, CustomerEvent.id)
        )
    ).all()
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": jsonable(utcnow()),
        "customer": _record(customer),
        "claims": [_record(c) for c in claims],
        "interactions": [{**_record(i), "attachments": [_record(a) for a in i.attachments]} for i in interactions],
        "plan_items": [_record(p) for p in plan],
        "ratings": [
            {
                "claim_id": c.id,
                "number": c.number,
                "score": c.satisfaction_score,
                "comment": c.satisfaction_comment,
                "at": jsonable(c.satisfaction_at),
            }
            for c in claims
            if c.satisfaction_score is not None
        ],
        "events": {
            "claims": [_record(e) for e in claim_events],
            "customer": [_record(e) for e in customer_events],
        },
    }
    await log_customer_event(
        session,
        customer_id=customer_id,
        actor=actor,
        kind="exported",
        details={"claims": len(claims), "interactions": len(interactions), **(source or {})},
    )
    return document


# ---------------------------------------------------------------------- erasure
@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did (also kept in its audit event)."""

    customer_id: int
    erased_at: datetime
    claims: int
    interactions: int
    attachments: int
    files_deleted: int
    plan_items: int
    events_scrubbed: int
    outbox_messages: int

    def as_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def _scrub(value: Any, marker: str, key: str | None = None) -> Any:
    """An event's values with the texts (at any depth) replaced by the marker."""
    if isinstance(value, dict):
        return {k: _scrub(v, marker, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, marker, key) for v in value]
    return marker if key in EVENT_TEXT_KEYS and isinstance(value, str) and value else value


def _fsm_keys_of(telegram_ids: set[int]) -> list[Any]:
    # aiogram's key builder writes the chat and the user as `:<id>:` parts of the record's key
    # (`fsm:<chat>:<user>:<destiny>`): a customer's wizard drafts are the keys naming them.
    return [FsmRecord.key.like(f"%:{ident}:%") for ident in telegram_ids]


async def erase_personal_data(
    session: AsyncSession,
    *,
    customer_id: int,
    actor: Actor,
    files_root: Path,
    source: Mapping[str, str] | None = None,
) -> Erasure:
    """Anonymise the customer and everything they said or sent, for good; keep the claims'
    figures. Refused while any of their claims is not closed (it is still being handled), and
    for a customer already erased. `source`: as for the export."""
    customer = await _customer(session, customer_id, for_update=True)
    if customer.erased_at is not None:
        raise Conflict(
            "this customer's data has already been erased", field="customer_id", key="api.problem.customer_erased"
        )
    claims = (
        await session.scalars(select(Claim).where(Claim.customer_id == customer_id).order_by(Claim.registered_at))
    ).all()
    still_open = [c.number for c in claims if c.status != ClaimStatus.CLOSED]
    if still_open:
        raise Conflict(
            f"close the customer's claims first: {', '.join(still_open)}",
            field="claims",
            key="api.problem.erase_open_claims",
            numbers=", ".join(still_open),
        )

    now = utcnow()
    marker = get_translator(get_settings().default_language)("core.erased")
    claim_ids = [c.id for c in claims]
    telegram_ids = {i for i in (customer.telegram_user_id, customer.telegram_chat_id) if i is not None}

    # Their claims: the words go, the figures stay. The version moves: an edit begun before the
    # erasure cannot write the old words back.
    await session.execute(
        update(Claim)
        .where(Claim.customer_id == customer_id)
        .values(
            subject=marker,
            description=marker,
            remedy_text=case((Claim.remedy_text.is_(None), None), else_=marker),
            order_ref=None,
            resolution=case((Claim.resolution.is_(None), None), else_=marker),
            satisfaction_comment=None,
            version=Claim.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    interaction_ids = list(await session.scalars(select(Interaction.id).where(_theirs(customer_id, claim_ids))))
    await session.execute(
        update(Interaction)
        .where(Interaction.id.in_(interaction_ids))
        .values(
            text=case((Interaction.text == "", ""), else_=marker),
            counterpart_name=None,
            counterpart_role=None,
            tg_chat_id=None,
            tg_message_id=None,
            tg_media_group_id=None,
        )
        .execution_options(synchronize_session=False)
    )
    attachments = (
        await session.scalars(
            select(Attachment).where(Attachment.interaction_id.in_(interaction_ids)).order_by(Attachment.id)
        )
    ).all()
    paths = [forget_file(a, reason=FileRemoval.ERASED, at=now) for a in attachments if a.removed_at is None]
    for attachment in attachments:
        attachment.file_name = None  # files that had expired before kept their names until now
    plan = await session.execute(
        update(PlanItem)
        .where(PlanItem.claim_id.in_(claim_ids))
        .values(
            title=marker,
            details=case((PlanItem.details.is_(None), None), else_=marker),
            outcome=case((PlanItem.outcome.is_(None), None), else_=marker),
        )
        .execution_options(synchronize_session=False)
    )
    events = (
        await session.scalars(
            select(ClaimEvent).where(
                or_(ClaimEvent.claim_id.in_(claim_ids), ClaimEvent.actor_customer_id == customer_id)
            )
        )
    ).all()
    scrubbed = 0
    for event in events:
        before, after = _scrub(event.before, marker), _scrub(event.after, marker)
        if before != event.before or after != event.after:
            event.before, event.after = before, after
            scrubbed += 1
    # The outbox's copies of what was said to them (and staff-chat posts about their claims): the
    # delivery records stay on the interactions; unsent messages are not sent any more.
    copies = [
        OutboxMessage.interaction_id.in_(interaction_ids),
        OutboxMessage.payload["claim_id"].as_string().in_([str(i) for i in claim_ids]),
    ]
    if telegram_ids:
        copies.append(OutboxMessage.chat_id.in_(telegram_ids))
    outbox = await session.execute(
        delete(OutboxMessage).where(or_(*copies)).execution_options(synchronize_session=False)
    )
    if telegram_ids:
        await session.execute(delete(FsmRecord).where(or_(*_fsm_keys_of(telegram_ids))))

    customer.name = marker
    customer.username = None
    customer.phone = None
    customer.email = None
    customer.notes = None
    customer.telegram_user_id = None
    customer.telegram_chat_id = None
    customer.bot_blocked_at = None
    customer.erased_at = now
    await session.flush()

    on_disk = files_on_disk(files_root, paths)
    erasure = Erasure(
        customer_id=customer_id,
        erased_at=now,
        claims=len(claims),
        interactions=len(interaction_ids),
        attachments=len(attachments),
        files_deleted=len(on_disk),
        plan_items=plan.rowcount or 0,  # type: ignore[attr-defined]
        events_scrubbed=scrubbed,
        outbox_messages=outbox.rowcount or 0,  # type: ignore[attr-defined]
    )
    await log_customer_event(
        session, customer_id=customer_id, actor=actor, kind="erased", details={**erasure.as_dict(), **(source or {})}
    )
    # Last, once every change is written: the files and the wizard drafts cannot come back.
    delete_files(on_disk)
    await _forget_redis_state(telegram_ids)
    return erasure


async def _forget_redis_state(telegram_ids: set[int]) -> None:
    """With REDIS_URL the bot keeps a customer's half-filled wizard in Redis (aiogram's keys
    `fsm:<chat>:<user>:<destiny>:state|data`): delete theirs too. Best effort: the erasure stands
    if Redis cannot be reached, and the log says so."""
    redis_url = get_settings().redis_url
    if not redis_url or not telegram_ids:
        return
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(redis_url)
    try:
        for ident in telegram_ids:
            keys = [key async for key in client.scan_iter(match=f"fsm:*:{ident}:*", count=500)]
            if keys:
                await client.delete(*keys)
    except (RedisError, OSError) as exc:
        log.warning("erasure: the bot's conversation state in Redis was not cleared: %s", exc)
    finally:
        await client.aclose()
