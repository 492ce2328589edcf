"""The worker's sweep forgets handled update ids once Telegram can no longer redeliver them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select

from shared.bot_state.models import ProcessedUpdate
from shared.bot_state.service import PROCESSED_UPDATE_RETENTION, claim_update
from shared.clock import utcnow
from shared.notifications.sweeper import sweep_once


async def test_old_update_ids_are_forgotten_recent_ones_kept(db) -> None:
    now = utcnow()
    old = now - PROCESSED_UPDATE_RETENTION - timedelta(minutes=1)
    recent = now - PROCESSED_UPDATE_RETENTION + timedelta(minutes=1)
    async with db.begin() as session:
        await session.execute(
            insert(ProcessedUpdate),
            [{"update_id": 1, "processed_at": old}, {"update_id": 2, "processed_at": recent}],
        )

    result = await sweep_once(db, now=now)
    assert result.updates_forgotten == 1
    async with db() as session:
        assert (await session.scalars(select(ProcessedUpdate.update_id))).all() == [2]
    # Telegram may hand out a forgotten id again (it picks ids at random after a quiet week):
    # it is a new update now, while the recent one is still recognised as a redelivery.
    async with db.begin() as session:
        assert await claim_update(session, update_id=1) is True
        assert await claim_update(session, update_id=2) is False
    assert (await sweep_once(db, now=now)).updates_forgotten == 0


async def test_sweep_can_leave_the_update_ids_alone(db) -> None:
    async with db.begin() as session:
        await session.execute(insert(ProcessedUpdate).values(update_id=7, processed_at=utcnow() - timedelta(days=30)))
    assert (await sweep_once(db, forget_updates=False)).updates_forgotten == 0
    assert (await sweep_once(db)).updates_forgotten == 1
