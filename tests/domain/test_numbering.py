"""Claim numbers under concurrent registration: distinct, readable, and without gaps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.service import NewClaim, register_claim
from shared.errors import InvalidValue
from tests.factories import make_customer


async def test_200_concurrent_registrations_get_200_numbers_without_gaps(db) -> None:
    async with db() as session:
        customer = await make_customer(session)
        await session.commit()

    async def register(i: int) -> str:
        # One session per task: an AsyncSession is never shared across concurrent tasks.
        async with db() as session:
            claim = await register_claim(
                session,
                claim_in=NewClaim(customer_id=customer.id, description=f"Претензия {i}"),
                actor=Actor.customer(customer.id),
            )
            await session.commit()
            return claim.number

    numbers = await asyncio.gather(*(register(i) for i in range(200)))
    assert len(set(numbers)) == 200
    year = datetime.now(UTC).year
    seqs = sorted(int(n.split("-")[1]) for n in numbers)
    assert seqs == list(range(1, 201))
    assert all(n.startswith(f"{year}-") and len(n) == 11 for n in numbers)


async def test_a_rolled_back_registration_leaves_no_gap(db) -> None:
    async with db() as session:
        customer = await make_customer(session)
        await session.commit()
    async with db() as session:
        await register_claim(
            session, claim_in=NewClaim(customer_id=customer.id, description="раз"), actor=Actor.customer(customer.id)
        )
        await session.rollback()
    async with db() as session:
        claim = await register_claim(
            session, claim_in=NewClaim(customer_id=customer.id, description="два"), actor=Actor.customer(customer.id)
        )
        await session.commit()
        assert claim.number.endswith("-000001")


async def test_year_follows_the_organisation_time_zone(session) -> None:
    customer = await make_customer(session)
    # 22:30 UTC on 31 December is already 1 January in Moscow.
    claim = await register_claim(
        session,
        claim_in=NewClaim(
            customer_id=customer.id, description="x", registered_at=datetime(2025, 12, 31, 22, 30, tzinfo=UTC)
        ),
        actor=Actor.customer(customer.id),
    )
    assert claim.number == "2026-000001"


async def test_empty_description_is_refused_and_takes_no_number(db) -> None:
    async with db() as session:
        customer = await make_customer(session)
        with pytest.raises(InvalidValue):
            await register_claim(
                session, claim_in=NewClaim(customer_id=customer.id, description="  "), actor=Actor.customer(customer.id)
            )
        claim = await register_claim(
            session, claim_in=NewClaim(customer_id=customer.id, description="ok"), actor=Actor.customer(customer.id)
        )
        assert claim.number.endswith("-000001")
        assert isinstance(claim, Claim)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("order_ref", {"order_ref": "x" * 101}),
        ("subject", {"subject": "s" * 301}),
        ("channel", {"channel": "pigeon"}),
        ("remedy", {"remedy": "a pony"}),
        ("priority", {"priority": "asap"}),
        ("currency", {"currency": "rubles"}),
        ("amount_claimed", {"amount_claimed": "-1"}),
    ],
)
async def test_a_refused_registration_uses_up_no_number(db, field: str, change: dict) -> None:
    async with db() as session:
        customer = await make_customer(session)
        await register_claim(
            session, claim_in=NewClaim(customer_id=customer.id, description="первая"), actor=Actor.customer(customer.id)
        )
        await session.commit()
    async with db() as session:
        with pytest.raises(InvalidValue) as refused:
            await register_claim(
                session,
                claim_in=NewClaim(customer_id=customer.id, description="плохая", **change),
                actor=Actor.customer(customer.id),
            )
        assert refused.value.field == field
        await session.commit()  # even a caller that commits anyway keeps the sequence whole
    async with db() as session:
        claim = await register_claim(
            session, claim_in=NewClaim(customer_id=customer.id, description="вторая"), actor=Actor.customer(customer.id)
        )
        await session.commit()
        assert claim.number.endswith("-000002")
