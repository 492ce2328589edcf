"""Reminders and overdue alerts reach every claim, however many were handled before: the candidate
queries leave out the claims already reminded or alerted, so a batch never fills up with them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shared.audit.models import ClaimEvent
from shared.claims.models import Claim
from shared.clock import utcnow
from shared.notifications import flows
from shared.notifications.sweeper import (
    BATCH,
    OVERDUE_ALERTED,
    REMINDED,
    adopt_outbox_markers,
    overdue_alerts,
    sla_reminders,
)
from shared.outbox.models import OutboxMessage
from shared.settings import get_settings
from tests.factories import make_claim, make_customer

STAFF_CHAT = 90_002


@pytest.fixture
def staff_chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STAFF_CHAT_ID", str(STAFF_CHAT))
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("STAFF_CHAT_ID")
    get_settings.cache_clear()


async def _overdue_claims(db, n: int, *, due_from) -> list[int]:
    async with db() as session, session.begin():
        customer = await make_customer(session)
        ids = []
        for i in range(n):
            claim = await make_claim(session, customer=customer)
            claim.due_at = due_from + timedelta(minutes=i)
            ids.append(claim.id)
    return ids


async def _marked(db, kind: str) -> set[int]:
    async with db() as session:
        return set(await session.scalars(select(ClaimEvent.claim_id).where(ClaimEvent.kind == kind)))


async def _outbox(db, kind: str) -> int:
    async with db() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.payload["kind"].as_string() == kind)
            )
            or 0
        )


async def test_overdue_alerts_reach_newer_claims_after_a_full_batch(db, staff_chat) -> None:
    now = utcnow()
    old = await _overdue_claims(db, BATCH, due_from=now - timedelta(days=30))
    assert await overdue_alerts(db, now) == BATCH  # the 200 oldest, alerted
    newer = await _overdue_claims(db, 50, due_from=now - timedelta(days=1))
    # 250 overdue claims, the 200 oldest already alerted: the newer 50 get theirs in one sweep.
    assert await overdue_alerts(db, now) == 50
    assert await _marked(db, OVERDUE_ALERTED) == set(old) | set(newer)
    assert await _outbox(db, "staff_overdue") == 250
    assert await overdue_alerts(db, now) == 0  # each claim once


async def test_sla_reminders_reach_newer_claims_after_a_full_batch(db) -> None:
    now = utcnow()
    hours = get_settings().sla_first_response_hours
    async with db() as session, session.begin():
        customer = await make_customer(session)
        first = [
            (await make_claim(session, customer=customer, registered_at=now - timedelta(hours=hours * 0.9))).id
            for _ in range(BATCH)
        ]
    assert await sla_reminders(db, now) == BATCH
    async with db() as session, session.begin():
        later = [
            (await make_claim(session, customer=customer, registered_at=now - timedelta(hours=hours * 0.8))).id
            for _ in range(50)
        ]
    assert await sla_reminders(db, now) == 50
    assert await _marked(db, REMINDED) == set(first) | set(later)
    assert await sla_reminders(db, now) == 0


async def test_alerts_sent_before_the_markers_are_adopted(db, staff_chat) -> None:
    """An overdue alert sent by an earlier version left only its outbox message: it is adopted as
    the marker once, so the claim is not alerted a second time."""
    now = utcnow()
    (earlier, fresh) = await _overdue_claims(db, 2, due_from=now - timedelta(days=2))
    async with db() as session, session.begin():
        claim = await session.get_one(Claim, earlier)
        assert await flows.staff_overdue(session, claim=claim) is not None  # as the old sweeper did
    assert await adopt_outbox_markers(db) == 1
    assert await adopt_outbox_markers(db) == 0  # once
    assert await overdue_alerts(db, now) == 1
    assert await _marked(db, OVERDUE_ALERTED) == {earlier, fresh}
    assert await _outbox(db, "staff_overdue") == 2
