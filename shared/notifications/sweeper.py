"""Periodic checks run by the worker: auto-close unanswered decisions, remind customers before
the first-response deadline, alert staff about overdue claims, free leases of dead workers, forget
the bot's handled update ids once Telegram can no longer redeliver them (hourly), and delete the
files of claims closed longer ago than ATTACHMENT_RETENTION_DAYS (hourly; the rows stay, noted
as expired).

Each claim is handled in its own transaction under its row lock, re-checking the condition, so
two workers sweeping at once act once; a refusal (the customer answered meanwhile) is skipped.

A reminder or an overdue alert is marked by a claim event (`sla_reminded`, `overdue_alerted`),
written with the message in one transaction and looked up by (claim, kind) through the
claim_event (claim_id, at) index. The candidate queries leave marked claims out, so a batch is
always of claims still to act on: however many were handled before, newer ones are reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.actors import SYSTEM
from shared.audit.models import ClaimEvent
from shared.audit.service import log_claim_event
from shared.bot_state.service import PROCESSED_UPDATE_RETENTION, forget_processed_updates
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.claims.workflow import OPEN_STATUSES, ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.enums import DeliveryState, FileRemoval
from shared.errors import DomainError
from shared.interactions.attachment_files import delete_files, files_dir, files_on_disk, forget_file
from shared.interactions.models import Attachment, Interaction
from shared.notifications import flows, staff_alerts
from shared.outage import OutageLog, is_outage
from shared.outbox.models import OutboxMessage
from shared.outbox.queue import release_expired_leases
from shared.settings import get_settings
from shared.staff.models import StaffUser

log = logging.getLogger("claimdesk.sweeper")

# The reminder goes out when this share of the first-response time is left and nobody answered.
REMINDER_SHARE_LEFT = 0.25
BATCH = 200
FORGET_UPDATES_EVERY = 3600.0  # seconds


@dataclass
class SweepResult:
    auto_closed: int = 0
    reminded: int = 0
    overdue_alerts: int = 0
    leases_released: int = 0
    updates_forgotten: int = 0
    attachments_expired: int = 0


REMINDED = "sla_reminded"
OVERDUE_ALERTED = "overdue_alerted"
# The outbox payload kinds that marked the same before the events existed (see adopt_outbox_markers).
_LEGACY_KINDS = {REMINDED: "sla_reminder", OVERDUE_ALERTED: "staff_overdue"}


def _marked(kind: str, claim_id: object) -> object:
    return exists().where(ClaimEvent.claim_id == claim_id, ClaimEvent.kind == kind)


def _answer_on_its_way(claim_id: object) -> object:
    """Staff answered and the answer waits for delivery: no "we have not forgotten you" meanwhile
    (the first response is recorded when it arrives)."""
    return exists().where(
        Interaction.claim_id == claim_id,
        Interaction.author_id.is_not(None),
        Interaction.delivery_state == DeliveryState.QUEUED.value,
    )


async def _mark(session: AsyncSession, claim_id: int, kind: str, now: datetime) -> None:
    await log_claim_event(session, claim_id=claim_id, actor=SYSTEM, kind=kind, at=now)


async def _locked_claim(session: AsyncSession, claim_id: int) -> Claim | None:
    return await session.scalar(
        select(Claim).where(Claim.id == claim_id).with_for_update().execution_options(populate_existing=True)
    )


async def auto_close(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    settings = get_settings()
    cutoff = now - timedelta(days=settings.auto_close_days)
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(Claim.id)
                .where(Claim.status == ClaimStatus.RESOLVED.value, Claim.resolved_at <= cutoff)
                .order_by(Claim.resolved_at)
                .limit(BATCH)
            )
        )
    closed = 0
    for claim_id in ids:
        try:
            async with sessions() as session, session.begin():
                claim = await _locked_claim(session, claim_id)
                if claim is None or claim.status != ClaimStatus.RESOLVED or claim.resolved_at is None:
                    continue
                if claim.resolved_at > cutoff:
                    continue
                await transition(session, claim_id=claim_id, to=ClaimStatus.CLOSED, actor=SYSTEM, at=now)
                closed += 1
        except DomainError as exc:
            log.info("auto-close of claim %s skipped: %s", claim_id, exc)
    return closed


async def sla_reminders(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    settings = get_settings()
    window = timedelta(hours=settings.sla_first_response_hours)
    remind_from = now - window * (1 - REMINDER_SHARE_LEFT)  # registered before this: little time left
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(Claim.id)
                .join(Customer, Customer.id == Claim.customer_id)
                .where(
                    Claim.status.in_([s.value for s in OPEN_STATUSES]),
                    Claim.first_response_at.is_(None),
                    Claim.registered_at <= remind_from,
                    Claim.registered_at > now - window,  # past the deadline a reminder is no use
                    Customer.telegram_chat_id.is_not(None),
                    ~_marked(REMINDED, Claim.id),
                    ~_answer_on_its_way(Claim.id),
                )
                .order_by(Claim.registered_at)
                .limit(BATCH)
            )
        )
    sent = 0
    for claim_id in ids:
        async with sessions() as session, session.begin():
            claim = await _locked_claim(session, claim_id)
            if claim is None or claim.first_response_at is not None or claim.status not in OPEN_STATUSES:
                continue
            if await session.scalar(select(_marked(REMINDED, claim_id))):
                continue  # another worker reminded meanwhile (it held the lock first)
            if await session.scalar(select(_answer_on_its_way(claim_id))):
                continue
            if await flows.sla_reminder(session, claim=claim) is not None:
                await _mark(session, claim_id, REMINDED, now)
                sent += 1
    return sent


def _overdue_marked(claim_id: object, due_at: object) -> object:
    """Alerted since the claim's current due time passed: a due date moved later makes the claim
    overdue anew, and alerted anew when that one passes too."""
    return exists().where(ClaimEvent.claim_id == claim_id, ClaimEvent.kind == OVERDUE_ALERTED, ClaimEvent.at >= due_at)


async def overdue_alerts(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    """The staff chat's post (STAFF_CHAT_ID) and the responsible's personal alert, once per claim
    per due time. Without a staff chat only the claims whose responsible takes overdue alerts are
    candidates: a claim nobody is told about stays unmarked and is not read again every sweep."""
    candidates = select(Claim.id).where(
        Claim.status.in_([s.value for s in OPEN_STATUSES]),
        and_(Claim.due_at.is_not(None), Claim.due_at < now),
        ~_overdue_marked(Claim.id, Claim.due_at),
    )
    if get_settings().staff_chat_id is None:
        candidates = candidates.where(
            exists().where(
                StaffUser.id == Claim.responsible_id,
                StaffUser.active.is_(True),
                StaffUser.telegram_user_id.is_not(None),
                StaffUser.alert_overdue.is_(True),
            )
        )
    async with sessions() as session:
        ids = list(await session.scalars(candidates.order_by(Claim.due_at).limit(BATCH)))
    sent = 0
    for claim_id in ids:
        async with sessions() as session, session.begin():
            claim = await _locked_claim(session, claim_id)
            if claim is None or claim.status not in OPEN_STATUSES or claim.due_at is None or claim.due_at >= now:
                continue
            if await session.scalar(select(_overdue_marked(claim_id, claim.due_at))):
                continue  # another worker alerted meanwhile (it held the lock first)
            posted = await flows.staff_overdue(session, claim=claim)
            personal = await staff_alerts.on_overdue(session, claim=claim)
            if posted is not None or personal is not None:
                await _mark(session, claim_id, OVERDUE_ALERTED, now)
                sent += 1
    return sent


async def adopt_outbox_markers(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Reminders and alerts sent before the marker events existed were marked only by their outbox
    message: give those claims the event, once, so they are not reminded or alerted again. One
    pass over the outbox when a worker starts; afterwards the sweeps never read the outbox."""
    adopted = 0
    async with sessions() as session, session.begin():
        for kind, legacy in _LEGACY_KINDS.items():
            claim_id = OutboxMessage.payload["claim_id"].as_string().cast(ClaimEvent.claim_id.type)
            sent = (
                select(claim_id.label("claim_id"), func.min(OutboxMessage.created_at).label("at"))
                .where(OutboxMessage.payload["kind"].as_string() == legacy)
                .group_by(claim_id)
                .subquery()
            )
            rows = await session.execute(
                ClaimEvent.__table__.insert().from_select(
                    ["claim_id", "actor_kind", "kind", "at"],
                    select(sent.c.claim_id, literal(SYSTEM.kind.value), literal(kind), sent.c.at)
                    .where(~_marked(kind, sent.c.claim_id))
                    .where(exists().where(Claim.id == sent.c.claim_id)),
                )
            )
            adopted += rows.rowcount or 0
    return adopted


async def expire_attachments(sessions: async_sessionmaker[AsyncSession], now: datetime, *, files_root: Path) -> int:
    """The files of claims closed longer ago than the retention period: deleted from the disk
    cache and their Telegram ids cleared, each attachment row kept with a note that it expired.
    A batch per transaction; its files are deleted once it is committed."""
    days = get_settings().attachment_retention_days
    if days is None:
        return 0
    cutoff = now - timedelta(days=days)
    expired = 0
    while True:
        async with sessions() as session, session.begin():
            batch = (
                await session.scalars(
                    select(Attachment)
                    .join(Interaction, Interaction.id == Attachment.interaction_id)
                    .join(Claim, Claim.id == Interaction.claim_id)
                    .where(
                        Claim.status == ClaimStatus.CLOSED.value,
                        Claim.closed_at < cutoff,
                        Attachment.removed_at.is_(None),
                    )
                    .order_by(Attachment.id)
                    .limit(BATCH)
                    .with_for_update(of=Attachment, skip_locked=True)
                )
            ).all()
            places = [forget_file(a, reason=FileRemoval.EXPIRED, at=now) for a in batch]
        delete_files(files_on_disk(files_root, places))
        expired += len(batch)
        if len(batch) < BATCH:
            return expired


async def sweep_once(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    forget_updates: bool = True,
    expire_files: bool = True,
    files_root: Path | None = None,
) -> SweepResult:
    """`forget_updates`, `expire_files`: the hourly parts (each a scan of its table)."""
    now = now or utcnow()
    result = SweepResult()
    async with sessions() as session, session.begin():
        result.leases_released = await release_expired_leases(session)
    if forget_updates:
        async with sessions() as session, session.begin():
            result.updates_forgotten = await forget_processed_updates(session, before=now - PROCESSED_UPDATE_RETENTION)
    if expire_files:
        root = files_root or files_dir(get_settings().data_dir)
        result.attachments_expired = await expire_attachments(sessions, now, files_root=root)
    result.auto_closed = await auto_close(sessions, now)
    result.reminded = await sla_reminders(sessions, now)
    result.overdue_alerts = await overdue_alerts(sessions, now)
    if any(dataclasses.astuple(result)):
        log.info("sweep: %s", result)
    return result


async def run_sweeper(
    sessions: async_sessionmaker[AsyncSession], stop: asyncio.Event, *, interval: float = 60.0
) -> None:
    try:
        if adopted := await adopt_outbox_markers(sessions):
            log.info("sweep: %s earlier reminders/alerts adopted as claim events", adopted)
    except Exception:  # at worst those claims are reminded or alerted once more
        log.exception("adopting outbox markers failed")
    forgotten_at = float("-inf")
    outages = OutageLog("sweeper", logger=log)
    while not stop.is_set():
        try:
            # The old update ids are found by a scan of their table: once an hour is enough.
            forget = time.monotonic() - forgotten_at >= FORGET_UPDATES_EVERY
            await sweep_once(sessions, forget_updates=forget, expire_files=forget)
            outages.recovered()
            if forget:
                forgotten_at = time.monotonic()
        except Exception as exc:  # a failed sweep is retried next time; the worker keeps delivering
            if is_outage(exc):
                outages.failed(exc, "sweeping again")  # once per outage, not once a minute
            else:
                log.exception("sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
