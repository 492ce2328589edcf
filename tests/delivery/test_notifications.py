"""What each change queues for the customer (and the staff chat), in the same transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.actors import Actor
from shared.claims.service import NewClaim, register_claim, transition
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.outbox.models import OutboxMessage
from shared.plans.service import add_plan_item, complete_plan_item, update_plan_item
from tests.factories import make_claim, make_customer, make_staff


async def _queued(session, claim_id: int) -> list[tuple[str, dict]]:
    rows = await session.execute(
        select(Interaction.text, OutboxMessage.payload)
        .join(OutboxMessage, OutboxMessage.interaction_id == Interaction.id)
        .where(Interaction.claim_id == claim_id, Interaction.delivery_state == "queued")
        .order_by(Interaction.id)
    )
    return [(text, payload) for text, payload in rows.all()]


async def test_staff_registration_is_acknowledged_in_the_customers_language(session) -> None:
    customer = await make_customer(session, name="<Ann>")
    customer.language = "en"
    staff = await make_staff(session)
    claim = await register_claim(
        session,
        claim_in=NewClaim(customer_id=customer.id, description="Broken <script>alert(1)</script> kettle"),
        actor=Actor.staff(staff.id),
    )
    ((text, payload),) = await _queued(session, claim.id)
    assert payload["kind"] == "acknowledged" and payload["parse_mode"] == "HTML"
    assert "&lt;script&gt;" in payload["text"] and "<script>" in text  # escaped for HTML, stored as seen
    assert text.startswith("Your claim") and customer.telegram_chat_id is not None
    box = await session.scalar(select(OutboxMessage).where(OutboxMessage.interaction_id.is_not(None)))
    assert box is not None and box.chat_id == customer.telegram_chat_id and box.status == "pending"


async def test_customer_filing_in_the_bot_gets_no_second_acknowledgement(session) -> None:
    claim = await make_claim(session)  # registered by the customer (the bot answers itself)
    assert await _queued(session, claim.id) == []


async def test_customer_without_telegram_gets_nothing_queued(session) -> None:
    customer = await make_customer(session, telegram=False)
    staff = Actor.staff((await make_staff(session)).id)
    claim = await make_claim(session, customer=customer)
    await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
    await transition(session, claim_id=claim.id, to="resolved", actor=staff, result="rejected", resolution="Нет")
    assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert await session.scalar(select(func.count()).select_from(Interaction)) == 0


async def test_every_edge_queues_its_message(session) -> None:
    t = get_translator("ru")
    staff = Actor.staff((await make_staff(session)).id)
    claim = await make_claim(session)
    await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
    await transition(session, claim_id=claim.id, to="resolved", actor=staff, result="satisfied", resolution="Да")
    await transition(session, claim_id=claim.id, to="in_progress", actor=staff)  # staff reopen
    await transition(session, claim_id=claim.id, to="resolved", actor=staff, result="rejected", resolution="Нет")
    await transition(session, claim_id=claim.id, to="closed", actor=staff)
    kinds = [payload["kind"] for _, payload in await _queued(session, claim.id)]
    assert kinds == ["taken", "decision", "reopened", "decision", "closed_survey"]
    decision = (await _queued(session, claim.id))[3][1]
    assert [b["text"] for b in decision["reply_markup"]["inline_keyboard"][0]] == [
        t("delivery.button.accept"),
        t("delivery.button.dispute"),
    ]


async def test_visible_plan_items_are_told(session) -> None:
    staff = Actor.staff((await make_staff(session)).id)
    claim = await make_claim(session)
    hidden = await add_plan_item(session, claim_id=claim.id, actor=staff, title="Internal check")
    await add_plan_item(
        session, claim_id=claim.id, actor=staff, title="Заберём товар <курьером>", visible_to_customer=True
    )
    await complete_plan_item(session, item_id=hidden.id, actor=staff, outcome="ok")  # not visible: silent
    await update_plan_item(session, item_id=hidden.id, actor=staff, changes={"visible_to_customer": True})
    queued = await _queued(session, claim.id)
    assert [p["kind"] for _, p in queued] == ["plan_added", "plan_added"]
    assert "&lt;курьером&gt;" in queued[0][1]["text"]
