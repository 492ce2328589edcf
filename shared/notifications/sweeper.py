"""Periodic checks run by the worker: auto-close unanswered decisions, remind customers before
the first-response deadline, alert staff about overdue claims, free leases of dead workers.

Each claim is handled in its own transaction under its row lock, re-checking the condition, so
two workers sweeping at once act once; a refusal (the customer answered meanwhile) is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.actors import SYSTEM
from shared.claims.models import Claim
from shared.claims.workflow import OPEN_STATUSES, ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.errors import DomainError
from shared.notifications import flows
from shared.outbox.models import OutboxMessage
from shared.outbox.queue import release_expired_leases
from shared.settings import get_settings

log = logging.getLogger("claimdesk.sweeper")

# The reminder goes out when this share of the first-response time is left and nobody answered.
REMINDER_SHARE_LEFT = 0.25
BATCH = 200


@dataclass
class SweepResult:
    auto_closed: int = 0
    reminded: int = 0
    overdue_alerts: int = 0
    leases_released: int = 0


def _sent_marker(kind: str, claim_id: int) -> object:
    return exists().where(OutboxMessage.payload.contains({"kind": kind, "claim_id": claim_id}))


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
        from shared.claims.service import transition

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
            if await session.scalar(select(_sent_marker("sla_reminder", claim_id))):
                continue
            if await flows.sla_reminder(session, claim=claim) is not None:
                sent += 1
    return sent


async def overdue_alerts(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
    if get_settings().staff_chat_id is None:
        return 0
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(Claim.id)
                .where(
                    Claim.status.in_([s.value for s in OPEN_STATUSES]),
                    and_(Claim.due_at.is_not(None), Claim.due_at < now),
                )
                .order_by(Claim.due_at)
                .limit(BATCH)
            )
        )
    sent = 0
    for claim_id in ids:
        async with sessions() as session, session.begin():
            claim = await _locked_claim(session, claim_id)
            if claim is None or claim.status not in OPEN_STATUSES:
                continue
            if await session.scalar(select(_sent_marker("staff_overdue", claim_id))):
                continue
            if await flows.staff_overdue(session, claim=claim) is not None:
                sent += 1
    return sent


async def sweep_once(sessions: async_sessionmaker[AsyncSession], *, now: datetime | None = None) -> SweepResult:
    now = now or utcnow()
    result = SweepResult()
    async with sessions() as session, session.begin():
        result.leases_released = await release_expired_leases(session)
    result.auto_closed = await auto_close(sessions, now)
    result.reminded = await sla_reminders(sessions, now)
    result.overdue_alerts = await overdue_alerts(sessions, now)
    if result.auto_closed or result.reminded or result.overdue_alerts or result.leases_released:
        log.info("sweep: %s", result)
    return result


async def run_sweeper(
    sessions: async_sessionmaker[AsyncSession], stop: asyncio.Event, *, interval: float = 60.0
) -> None:
    while not stop.is_set():
        try:
            await sweep_once(sessions)
        except Exception:  # a failed sweep is retried next time; the worker keeps delivering
            log.exception("sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
