"""Personal alerts (shared/notifications/staff_alerts.py): a linked, active staff member with the
alert on gets one private message (an outbox row to their chat with the bot), in their language,
with the claim's number and its card's link, when a claim is assigned to them by someone else,
when its customer writes (once per burst) and when it becomes overdue (once per due time); nobody
else does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.service import assign
from shared.clock import utcnow
from shared.enums import Direction, InteractionChannel, Role
from shared.interactions.routing import receive_inbound
from shared.interactions.service import TelegramRef, log_interaction
from shared.notifications.sweeper import overdue_alerts
from shared.outbox.models import OutboxMessage
from shared.settings import get_settings
from shared.staff.accounts import update_user
from shared.staff.linking import unlink_telegram
from shared.staff.models import StaffUser
from tests.factories import make_claim, make_customer, make_staff

PUBLIC = "https://desk.example.org"


@pytest.fixture(autouse=True)
def public_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BACKOFFICE_PUBLIC_URL", PUBLIC)
    monkeypatch.delenv("STAFF_CHAT_ID", raising=False)  # personal alerts need no staff chat
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("BACKOFFICE_PUBLIC_URL")
    get_settings.cache_clear()


async def linked_staff(session: AsyncSession, telegram_user_id: int, *, language: str = "en") -> StaffUser:
    staff = await make_staff(session)
    staff.telegram_user_id = telegram_user_id
    staff.language = language
    staff.full_name = "Olga"
    await session.flush()
    return staff


async def alerts(session: AsyncSession, kind: str | None = None) -> list[OutboxMessage]:
    rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    found = [r for r in rows if str(r.payload.get("kind", "")).startswith("staff_alert_")]
    return [r for r in found if kind is None or r.payload["kind"] == f"staff_alert_{kind}"]


async def test_an_assignment_alerts_the_new_responsible_in_their_language(session: AsyncSession) -> None:
    olga = await linked_staff(session, 8201, language="ru")
    manager = await make_staff(session, role=Role.MANAGER)
    manager.full_name = "Мария <К>"
    claim = await make_claim(session)
    await assign(session, claim_id=claim.id, actor=Actor.staff(manager.id), responsible_id=olga.id)
    (alert,) = await alerts(session)
    assert alert.chat_id == 8201 and alert.method == "sendMessage" and alert.payload["parse_mode"] == "HTML"
    text = alert.payload["text"]
    assert text.startswith("📌 Вам назначена претензия")
    assert f"<b>{claim.number}</b>" in text and "Мария &lt;К&gt;" in text
    assert f"{PUBLIC}/claims/{claim.id}" in text
    assert "claim_id" not in alert.payload  # a failed alert is not shown as the customer's message
    # The same responsible again changes nothing, so it alerts nothing.
    await assign(session, claim_id=claim.id, actor=Actor.staff(manager.id), responsible_id=olga.id)
    assert len(await alerts(session)) == 1


async def test_taking_a_claim_oneself_alerts_nobody(session: AsyncSession) -> None:
    olga = await linked_staff(session, 8202)
    claim = await make_claim(session)
    await assign(session, claim_id=claim.id, actor=Actor.staff(olga.id), responsible_id=olga.id)
    assert await alerts(session) == []


async def _inbound(session: AsyncSession, claim: Claim, message_id: int, at=None) -> None:
    await log_interaction(
        session,
        actor=Actor.customer(claim.customer_id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text=f"Message {message_id} <b>",
        claim_id=claim.id,
        telegram=TelegramRef(chat_id=1, message_id=message_id),
        occurred_at=at,
    )


async def test_a_customer_writing_alerts_the_responsible_once_per_burst(session: AsyncSession) -> None:
    olga = await linked_staff(session, 8203)
    customer = await make_customer(session, name="Anna <P>")
    claim = await make_claim(session, customer=customer)
    await assign(session, claim_id=claim.id, actor=Actor.system(), responsible_id=olga.id)
    assert len(await alerts(session, "assigned")) == 1  # "by the desk"
    assert customer.telegram_chat_id is not None
    for n in (1, 2, 3):
        await receive_inbound(
            session,
            customer_id=customer.id,
            chosen_claim_id=None,
            text=f"Where is my refund? <{n}>",
            telegram=TelegramRef(chat_id=customer.telegram_chat_id, message_id=n),
        )
    (alert,) = await alerts(session, "customer_wrote")
    text = alert.payload["text"]
    assert alert.chat_id == 8203
    assert "Anna &lt;P&gt;" in text and "Where is my refund? &lt;1&gt;" in text and claim.number in text
    assert f"{PUBLIC}/claims/{claim.id}" in text
    # After ten quiet minutes the customer writing again is news again.
    await _inbound(session, claim, 50, at=utcnow() + timedelta(minutes=11))
    assert len(await alerts(session, "customer_wrote")) == 2


async def test_a_claim_without_a_responsible_alerts_nobody(session: AsyncSession) -> None:
    await linked_staff(session, 8204)
    claim = await make_claim(session)
    await _inbound(session, claim, 1)
    assert await alerts(session) == []


@pytest.mark.parametrize("case", ["switched_off", "deactivated", "unlinked"])
async def test_no_alert_to_a_staff_member_who_switched_it_off_was_deactivated_or_unlinked(
    db: async_sessionmaker[AsyncSession], case: str
) -> None:
    now = utcnow()
    async with db.begin() as session:
        olga = await linked_staff(session, 8205)
        admin = await make_staff(session, role=Role.ADMIN)
        if case == "switched_off":
            olga.alert_assigned = olga.alert_customer_wrote = olga.alert_overdue = False
        elif case == "deactivated":
            await update_user(session, user_id=olga.id, changes={"active": False})
        else:
            await unlink_telegram(session, user_id=olga.id, actor=Actor.staff(admin.id))
        claim = await make_claim(session, registered_at=now - timedelta(days=10))
        # The claim is given to her before she was deactivated (a deactivated user cannot be chosen).
        await session.execute(update(Claim).where(Claim.id == claim.id).values(responsible_id=olga.id))
        if case != "deactivated":
            await assign(session, claim_id=claim.id, actor=Actor.staff(admin.id), responsible_id=None)
            await assign(session, claim_id=claim.id, actor=Actor.staff(admin.id), responsible_id=olga.id)
        await _inbound(session, claim, 1)
    assert await overdue_alerts(db, now) == 0
    async with db() as session:
        assert await alerts(session) == []


async def test_an_overdue_claim_alerts_its_responsible_once_per_due_time(db: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with db.begin() as session:
        olga = await linked_staff(session, 8206, language="en")
        claim = await make_claim(session, registered_at=now - timedelta(days=10))
        await session.execute(update(Claim).where(Claim.id == claim.id).values(responsible_id=olga.id))
        other = await make_claim(session, registered_at=now - timedelta(days=10))  # nobody's: no alert, no mark
    assert await overdue_alerts(db, now) == 1
    assert await overdue_alerts(db, now + timedelta(minutes=1)) == 0  # once
    async with db() as session:
        (alert,) = await alerts(session, "overdue")
        assert alert.chat_id == 8206
        text = alert.payload["text"]
        assert text.startswith(f"⏰ Your claim <b>{claim.number}</b> is past its due time")
        assert f"{PUBLIC}/claims/{claim.id}" in text and other.number not in text
    # A manager moves the due date; when the new one passes, the claim is overdue anew.
    later = now + timedelta(days=1)
    async with db.begin() as session:
        await session.execute(update(Claim).where(Claim.id == claim.id).values(due_at=later))
    assert await overdue_alerts(db, later - timedelta(minutes=1)) == 0
    assert await overdue_alerts(db, later + timedelta(minutes=1)) == 1
    async with db() as session:
        assert len(await alerts(session, "overdue")) == 2


async def test_with_a_staff_chat_the_group_post_and_the_personal_alert_go_once_together(
    db: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAFF_CHAT_ID", "90003")
    get_settings.cache_clear()
    now = utcnow()
    async with db.begin() as session:
        olga = await linked_staff(session, 8207)
        claim = await make_claim(session, registered_at=now - timedelta(days=10))
        await session.execute(update(Claim).where(Claim.id == claim.id).values(responsible_id=olga.id))
    assert await overdue_alerts(db, now) == 1
    assert await overdue_alerts(db, now) == 0
    async with db() as session:
        chats = sorted(m.chat_id for m in (await session.scalars(select(OutboxMessage))).all())
    assert chats == [8207, 90003]
    monkeypatch.delenv("STAFF_CHAT_ID")
