"""The first response (the SLA clock the response-times report reads): the first thing staff said
that reached the customer: a call, e-mail or meeting when it happened, a Telegram reply or the news
of a status change staff made when the delivery worker got it through (never a message Telegram
refused, never an internal note); the hours to it are derived by PostgreSQL
(claim.first_response_hours)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.service import NewClaim, register_claim, transition
from shared.enums import Channel, Direction, InteractionChannel
from shared.interactions.models import Interaction
from shared.interactions.service import log_interaction, reply_to_customer
from shared.outbox import queue
from shared.outbox.models import OutboxMessage
from tests.factories import make_claim, make_customer, make_staff


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


async def _first_response(db, claim_id: int):
    async with db() as session:
        return await session.scalar(select(Claim.first_response_at).where(Claim.id == claim_id))


async def _lease_one(db) -> queue.LeasedMessage:
    (message,) = await queue.claim_batch(db, limit=1, lease_seconds=30)
    return message


async def test_only_what_reached_the_customer_counts_at_its_delivery_time(db) -> None:
    async with db() as session:
        staff = await make_staff(session)
        actor = Actor.staff(staff.id)
        customer = await make_customer(session)
        # Registered by staff: the customer is sent an automatic acknowledgement (not an answer).
        claim = await register_claim(
            session,
            claim_in=NewClaim(customer_id=customer.id, description="Не пришёл заказ", channel=Channel.PHONE),
            actor=actor,
        )
        await session.commit()
    acknowledgement = await _lease_one(db)
    assert acknowledgement.payload["kind"] == "acknowledged"
    assert await queue.mark_sent(db, acknowledgement, tg_message_id=1)
    assert await _first_response(db, claim.id) is None  # the desk spoke, not staff

    async with db() as session:
        await reply_to_customer(session, claim_id=claim.id, actor=actor, text="Разбираемся", author_id=staff.id)
        await session.commit()
    assert await _first_response(db, claim.id) is None  # queued is not reached
    refused = await _lease_one(db)
    assert await queue.mark_failed(db, refused, reason="Telegram refused the message: Bad Request")
    assert await _first_response(db, claim.id) is None  # refused never counts

    async with db() as session:
        await transition(session, claim_id=claim.id, to="in_progress", actor=actor)
        await session.commit()
    assert await _first_response(db, claim.id) is None
    taken = await _lease_one(db)
    assert taken.payload["kind"] == "taken"
    assert await queue.mark_sent(db, taken, tg_message_id=2)
    async with db() as session:
        sent_at = await session.scalar(select(OutboxMessage.sent_at).where(OutboxMessage.id == taken.id))
        interaction = await session.get_one(Interaction, taken.interaction_id)
    # The delivery time, not the time the news was queued.
    assert await _first_response(db, claim.id) == sent_at and sent_at > interaction.occurred_at

    # A later answer leaves it as it is.
    async with db() as session:
        await reply_to_customer(session, claim_id=claim.id, actor=actor, text="Ещё новости", author_id=staff.id)
        await session.commit()
    assert await queue.mark_sent(db, await _lease_one(db), tg_message_id=3)
    assert await _first_response(db, claim.id) == sent_at


async def test_a_status_change_nobody_was_told_of_is_no_answer(db) -> None:
    async with db() as session:
        staff = await make_staff(session)
        offline = await make_customer(session, telegram=False)
        claim = await make_claim(session, customer=offline)
        await session.commit()
        await transition(
            session,
            claim_id=claim.id,
            to="in_progress",
            actor=Actor.staff(staff.id),
            at=claim.registered_at + timedelta(hours=2),
        )
        await session.commit()
        assert await _hours(session, claim.id) is None  # no Telegram: they learn it when staff call
        await log_interaction(
            session,
            actor=Actor.staff(staff.id),
            direction=Direction.OUTBOUND,
            channel=InteractionChannel.PHONE,
            claim_id=claim.id,
            text="Позвонили: взяли в работу",
            occurred_at=claim.registered_at + timedelta(hours=3),
        )
        await session.commit()
        assert await _hours(session, claim.id) == 3.0
