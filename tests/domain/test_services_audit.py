"""Each service call leaves exactly one audit event; a refused call changes nothing at all."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.claims.models import Claim
from shared.claims.service import assign, record_satisfaction, transition, update_claim
from shared.enums import Direction, InteractionChannel
from shared.errors import Conflict, DomainError, InvalidValue, NotFound, StaleVersion, TransitionRefused
from shared.interactions.models import Interaction
from shared.interactions.service import TelegramRef, log_interaction
from shared.plans.models import PlanItem
from shared.plans.service import add_plan_item, complete_plan_item, remove_plan_item, update_plan_item
from tests.factories import make_catalogs, make_claim, make_customer, make_staff


async def event_count(session, claim_id: int) -> int:
    return await session.scalar(select(func.count()).select_from(ClaimEvent).where(ClaimEvent.claim_id == claim_id))


async def test_registration_writes_one_event(session) -> None:
    claim = await make_claim(session)
    events = (await session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id))).all()
    assert [e.kind for e in events] == ["registered"]
    assert events[0].actor_kind == "customer" and events[0].after["number"] == claim.number
    assert claim.due_at is not None and claim.due_at > claim.registered_at


async def test_each_service_call_writes_exactly_one_event(session) -> None:
    staff = await make_staff(session)
    actor = Actor.staff(staff.id)
    department, employee, reason = await make_catalogs(session)
    claim = await make_claim(session)

    async def one_event(call) -> object:
        before = await event_count(session, claim.id)
        result = await call
        assert await event_count(session, claim.id) == before + 1
        return result

    await one_event(
        assign(
            session,
            claim_id=claim.id,
            actor=actor,
            reason_id=reason.id,
            culprit_employee_id=employee.id,
            responsible_id=staff.id,
        )
    )
    # naming the culprit employee names their department too
    assert claim.culprit_department_id == department.id
    await one_event(
        update_claim(session, claim_id=claim.id, actor=actor, changes={"priority": "high", "amount_claimed": "1500.50"})
    )
    assert claim.amount_claimed == Decimal("1500.50")
    await one_event(
        log_interaction(
            session,
            actor=actor,
            direction=Direction.OUTBOUND,
            channel=InteractionChannel.PHONE,
            claim_id=claim.id,
            text="Позвонили клиенту",
            counterpart_name="Анна",
            counterpart_role="клиент",
        )
    )
    assert claim.first_response_at is not None
    item = await one_event(
        add_plan_item(
            session,
            claim_id=claim.id,
            actor=actor,
            title="Запросить фото",
            owner_id=employee.id,
            due_date=date(2026, 12, 1),
        )
    )
    await one_event(update_plan_item(session, item_id=item.id, actor=actor, changes={"title": "Запросить фото и чек"}))
    await one_event(complete_plan_item(session, item_id=item.id, actor=actor, outcome="Фото получены"))
    await one_event(remove_plan_item(session, item_id=item.id, actor=actor))
    await one_event(transition(session, claim_id=claim.id, to="in_progress", actor=actor))
    await one_event(
        transition(
            session,
            claim_id=claim.id,
            to="resolved",
            actor=actor,
            result="satisfied",
            resolution="Вернём деньги",
            amount_granted="1500",
        )
    )
    await one_event(transition(session, claim_id=claim.id, to="closed", actor=Actor.customer(claim.customer_id)))
    await one_event(record_satisfaction(session, claim_id=claim.id, actor=Actor.customer(claim.customer_id), score=5))
    assert claim.satisfaction_score == 5


async def _committed_claim(db):
    async with db() as session:
        staff = await make_staff(session)
        claim = await make_claim(session)
        await session.commit()
        return claim, Actor.staff(staff.id)


async def _state(db, claim_id: int) -> tuple:
    async with db() as session:
        claim = await session.get_one(Claim, claim_id)
        return (
            claim.status,
            claim.version,
            claim.reason_id,
            claim.responsible_id,
            claim.priority,
            await event_count(session, claim_id),
            await session.scalar(select(func.count()).select_from(PlanItem)),
            await session.scalar(select(func.count()).select_from(Interaction)),
        )


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("unknown reason id", InvalidValue),
        ("unknown responsible", InvalidValue),
        ("resolve without result", DomainError),  # from new: refused before the result is looked at
        ("bad transition", TransitionRefused),
        ("bad priority", InvalidValue),
        ("negative amount", InvalidValue),
        ("stale version", StaleVersion),
        ("plan owner unknown", InvalidValue),
        ("empty plan title", InvalidValue),
        ("rate an open claim", Conflict),
        ("interaction on unknown claim", NotFound),
        ("rating out of range", InvalidValue),
    ],
)
async def test_refused_call_changes_nothing(db, name: str, error: type[Exception]) -> None:
    claim, actor = await _committed_claim(db)
    before = await _state(db, claim.id)
    calls = {
        "unknown reason id": lambda s: assign(s, claim_id=claim.id, actor=actor, reason_id=999_999),
        "unknown responsible": lambda s: assign(s, claim_id=claim.id, actor=actor, responsible_id=999_999),
        "resolve without result": lambda s: transition(s, claim_id=claim.id, to="resolved", actor=actor),
        "bad transition": lambda s: transition(s, claim_id=claim.id, to="closed", actor=actor),
        "bad priority": lambda s: update_claim(s, claim_id=claim.id, actor=actor, changes={"priority": "asap"}),
        "negative amount": lambda s: update_claim(s, claim_id=claim.id, actor=actor, changes={"amount_claimed": "-5"}),
        "stale version": lambda s: update_claim(
            s, claim_id=claim.id, actor=actor, changes={"priority": "high"}, expected_version=claim.version + 7
        ),
        "plan owner unknown": lambda s: add_plan_item(s, claim_id=claim.id, actor=actor, title="x", owner_id=424242),
        "empty plan title": lambda s: add_plan_item(s, claim_id=claim.id, actor=actor, title="  "),
        "rate an open claim": lambda s: record_satisfaction(s, claim_id=claim.id, actor=actor, score=4),
        "interaction on unknown claim": lambda s: log_interaction(
            s, actor=actor, direction=Direction.INTERNAL, channel=InteractionChannel.NOTE, claim_id=777_777, text="x"
        ),
        "rating out of range": lambda s: record_satisfaction(s, claim_id=claim.id, actor=actor, score=6),
    }
    async with db() as session:
        with pytest.raises(error):
            await calls[name](session)
        await session.commit()  # a careless caller that commits anyway finds nothing to write
    assert await _state(db, claim.id) == before


async def test_redelivered_telegram_message_is_stored_once(session) -> None:
    customer = await make_customer(session)
    claim = await make_claim(session, customer=customer)
    ref = TelegramRef(chat_id=customer.telegram_chat_id, message_id=42)
    first, created = await log_interaction(
        session,
        actor=Actor.customer(customer.id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        claim_id=claim.id,
        customer_id=customer.id,
        text="Где мой заказ?",
        telegram=ref,
    )
    again, created_again = await log_interaction(
        session,
        actor=Actor.customer(customer.id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        claim_id=claim.id,
        customer_id=customer.id,
        text="Где мой заказ?",
        telegram=ref,
    )
    assert created and not created_again and first.id == again.id
    edit, _ = await log_interaction(
        session,
        actor=Actor.customer(customer.id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        claim_id=claim.id,
        customer_id=customer.id,
        text="Где мой заказ №5?",
        edit_of_id=first.id,
        telegram=TelegramRef(chat_id=customer.telegram_chat_id, message_id=42, edit_date=1_700_000_000),
    )
    assert edit.id != first.id and first.text == "Где мой заказ?"


async def test_customer_cannot_log_on_another_customers_claim(session) -> None:
    owner = await make_customer(session)
    stranger = await make_customer(session)
    claim = await make_claim(session, customer=owner)
    with pytest.raises(NotFound):
        await log_interaction(
            session,
            actor=Actor.customer(stranger.id),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            claim_id=claim.id,
            customer_id=stranger.id,
            text="чужая претензия",
        )


async def test_concurrent_edits_never_overwrite_silently(db) -> None:
    claim, actor = await _committed_claim(db)
    async with db() as first, db() as second:
        a = await first.get_one(Claim, claim.id)
        b = await second.get_one(Claim, claim.id)
        assert a.version == b.version
        await update_claim(
            first, claim_id=claim.id, actor=actor, changes={"priority": "high"}, expected_version=a.version
        )
        await first.commit()
        with pytest.raises(StaleVersion):
            await update_claim(
                second, claim_id=claim.id, actor=actor, changes={"priority": "low"}, expected_version=b.version
            )
