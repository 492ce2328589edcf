"""The first response (the SLA clock the response-times report reads): the first thing staff say to
the customer or the first status change by staff, recorded once, in the transaction of that call;
the hours to it are derived by PostgreSQL (claim.first_response_hours)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.enums import Direction, InteractionChannel
from shared.interactions.service import log_interaction
from tests.factories import make_claim, make_staff


async def _hours(session, claim_id: int) -> float | None:
    return await session.scalar(select(Claim.first_response_hours).where(Claim.id == claim_id))


async def test_first_staff_message_to_the_customer_is_recorded_once(db) -> None:
    async with db() as session:
        staff = await make_staff(session)
        actor = Actor.staff(staff.id)
        claim = await make_claim(session)
        await session.commit()
        claim_id, registered = claim.id, claim.registered_at

    async with db() as session:
        # Neither the customer's own message nor an internal note answers the customer.
        await log_interaction(
            session,
            actor=Actor.customer(claim.customer_id),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            claim_id=claim_id,
            text="Где мой заказ?",
            occurred_at=registered + timedelta(minutes=30),
        )
        await log_interaction(
            session,
            actor=actor,
            direction=Direction.INTERNAL,
            channel=InteractionChannel.NOTE,
            claim_id=claim_id,
            text="Проверить склад",
            occurred_at=registered + timedelta(hours=1),
        )
        await session.commit()
        assert await session.scalar(select(Claim.first_response_at).where(Claim.id == claim_id)) is None

    async with db() as session:
        await log_interaction(
            session,
            actor=actor,
            direction=Direction.OUTBOUND,
            channel=InteractionChannel.PHONE,
            claim_id=claim_id,
            text="Позвонили клиенту",
            counterpart_name="Анна",
            occurred_at=registered + timedelta(hours=3),
        )
        await session.rollback()  # the call's transaction rolled back: no first response either
        assert await session.scalar(select(Claim.first_response_at).where(Claim.id == claim_id)) is None

    async with db() as session:
        await log_interaction(
            session,
            actor=actor,
            direction=Direction.OUTBOUND,
            channel=InteractionChannel.PHONE,
            claim_id=claim_id,
            text="Позвонили клиенту",
            counterpart_name="Анна",
            occurred_at=registered + timedelta(hours=4, minutes=30),
        )
        await session.commit()
    async with db() as session:
        # Later answers and status changes leave it as it is.
        await log_interaction(
            session,
            actor=actor,
            direction=Direction.OUTBOUND,
            channel=InteractionChannel.PHONE,
            claim_id=claim_id,
            text="Перезвонили",
            counterpart_name="Анна",
            occurred_at=registered + timedelta(hours=6),
        )
        await transition(session, claim_id=claim_id, to="in_progress", actor=actor)
        await session.commit()
        stored = await session.scalar(select(Claim.first_response_at).where(Claim.id == claim_id))
        assert stored == registered + timedelta(hours=4, minutes=30)
        assert await _hours(session, claim_id) == 4.5


async def test_first_status_change_by_staff_is_a_first_response(db) -> None:
    async with db() as session:
        staff = await make_staff(session)
        claim = await make_claim(session)
        other = await make_claim(session)
        await session.commit()
        await transition(
            session,
            claim_id=other.id,
            to="in_progress",
            actor=Actor.staff(staff.id),
            at=other.registered_at + timedelta(hours=2),
        )
        await session.commit()
        assert await _hours(session, other.id) == 2.0
        assert await _hours(session, claim.id) is None
