"""The worker counts each delivery attempt's outcome (claimdesk_deliveries_total): sent, retried,
failed; the counts agree with the outbox."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from bot.sandbox import BotApiEmulator
from shared.customers.models import Customer
from shared.outbox.models import OutboxMessage
from tests.delivery.conftest import claim_for, running_worker, staff_reply, wait_until

OUTCOMES = ("sent", "retried", "failed", "lease_lost")


def deliveries() -> dict[str, float]:
    return {o: REGISTRY.get_sample_value("claimdesk_deliveries_total", {"outcome": o}) or 0.0 for o in OUTCOMES}


async def test_delivery_outcomes_are_counted(db, emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, emu)
        blocked_claim, _ = await claim_for(session, emu)
        chat = await session.scalar(select(Customer.telegram_chat_id).where(Customer.id == claim.customer_id))
        blocked_chat = await session.scalar(
            select(Customer.telegram_chat_id).where(Customer.id == blocked_claim.customer_id)
        )
    emu.user(blocked_chat).block()
    emu.faults.inject(method="sendMessage", chat_id=chat, kind=502)
    before = deliveries()
    async with running_worker(db, emu, database_url):
        await staff_reply(db, claim, staff, "once the 502 is past")
        await staff_reply(db, blocked_claim, staff, "never: the bot is blocked")

        async def settled() -> bool:
            async with db() as session:
                owed = await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status.in_(("pending", "sending")))
                )
            return owed == 0

        await wait_until(settled, 15)
    async with db() as session:
        by_status = dict(
            (await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all()
        )
    counted = {o: n - before[o] for o, n in deliveries().items()}
    assert by_status["failed"] >= 1 and counted["failed"] == by_status["failed"]
    assert counted["sent"] == by_status["sent"] >= 1
    assert counted["retried"] == 1 and counted["lease_lost"] == 0
