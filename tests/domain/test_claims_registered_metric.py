"""Claims registered are counted when their transaction commits: a registration rolled back (a
refused submit, an outage mid-update) is not a claim, and must not show in the metric."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.enums import Channel
from tests.factories import make_claim, make_customer


def registered(channel: str) -> float:
    return REGISTRY.get_sample_value("claimdesk_claims_registered_total", {"channel": channel}) or 0.0


async def test_counted_on_commit_never_on_rollback(db: async_sessionmaker[AsyncSession]) -> None:
    before = registered("email")
    async with db() as session:
        await make_claim(session, customer=await make_customer(session), channel=Channel.EMAIL)
        await session.rollback()
    assert registered("email") == before
    async with db() as session:
        customer = await make_customer(session)
        await make_claim(session, customer=customer, channel=Channel.EMAIL)
        await make_claim(session, customer=customer, channel=Channel.EMAIL)
        assert registered("email") == before  # not yet: the transaction may still roll back
        await session.commit()
    assert registered("email") == before + 2
    async with db() as session:  # the next transaction of a session counts only its own
        await session.commit()
    assert registered("email") == before + 2
