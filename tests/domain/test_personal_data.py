"""A customer's personal data (152-FZ, GDPR): the export holds everything stored about them; the
erasure leaves not one of their words, contacts, Telegram ids or files anywhere in the database or
the file cache, keeps every figure the reports count, refuses while a claim is still handled, and
is recorded (who, when)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from shared.actors import Actor
from shared.audit.models import ClaimEvent, CustomerEvent
from shared.bot_state.models import FsmRecord
from shared.catalogs.models import Department, Reason
from shared.claims.models import Claim
from shared.claims.service import NewClaim, assign, record_satisfaction, register_claim, transition, update_claim
from shared.customers.models import Customer
from shared.customers.personal_data import erase_personal_data, export_personal_data
from shared.enums import AttachmentKind, Channel, Direction, InteractionChannel, Role
from shared.errors import Conflict
from shared.interactions.models import Attachment, Interaction
from shared.interactions.service import AttachmentIn, TelegramRef, log_interaction, reply_to_customer
from shared.models import Base
from shared.outbox.models import OutboxMessage
from shared.plans.service import add_plan_item
from shared.reports import REPORTS, run_report
from shared.settings import get_settings
from tests.factories import make_customer, make_staff
from tests.reports.conftest import MOSCOW

# Words only the erased customer's data holds: after the erasure none may be found anywhere.
SECRETS = ("Кукушкина", "+79161234567", "kukushka_tg", "ул. Тверская 7", "паспорт_кукушкиной.jpg", "ORD-775533")
TELEGRAM_ID = 777_000_111


async def _person(session, files: Path) -> tuple[Customer, Claim, Claim, int]:
    staff = await make_staff(session, role=Role.MANAGER)
    actor = Actor.staff(staff.id)
    department = Department(name="Доставка")
    reason = Reason(name="Опоздание")
    session.add_all([department, reason])
    customer = Customer(
        name="Ольга Кукушкина",
        phone="+79161234567",
        username="kukushka_tg",
        email="olga@example.org",
        telegram_user_id=TELEGRAM_ID,
        telegram_chat_id=TELEGRAM_ID,
        notes="живёт на ул. Тверская 7",
    )
    session.add(customer)
    await session.flush()
    claim = await register_claim(
        session,
        claim_in=NewClaim(
            customer_id=customer.id,
            description="Курьер не довёз заказ на ул. Тверская 7",
            order_ref="ORD-775533",
            remedy_text="Верните деньги, Кукушкина",
            amount_claimed=Decimal("1500"),
            registered_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        ),
        actor=Actor.customer(customer.id),
    )
    await assign(session, claim_id=claim.id, actor=actor, reason_id=reason.id, culprit_department_id=department.id)
    await update_claim(
        session, claim_id=claim.id, actor=actor, changes={"description": "Заказ на ул. Тверская 7 не довезли"}
    )
    (files / "tg").mkdir(parents=True, exist_ok=True)
    (files / "tg" / "AgADkuku").write_bytes(b"scan of a passport")
    await log_interaction(
        session,
        actor=Actor.customer(customer.id),
        direction=Direction.INBOUND,
        channel=InteractionChannel.TELEGRAM,
        text="Вот мой паспорт, Кукушкина",
        claim_id=claim.id,
        telegram=TelegramRef(chat_id=TELEGRAM_ID, message_id=41),
        attachments=(
            AttachmentIn(
                kind=AttachmentKind.PHOTO,
                tg_file_id="AgACAgIAAxkBAAIBkuku",
                tg_file_unique_id="AgADkuku",
                file_name="паспорт_кукушкиной.jpg",
                size=18,
                storage_path="tg/AgADkuku",
            ),
        ),
    )
    await reply_to_customer(
        session, claim_id=claim.id, actor=actor, text="Ольга Кукушкина, разбираемся", author_id=staff.id
    )
    await log_interaction(
        session,
        actor=actor,
        direction=Direction.INTERNAL,
        channel=InteractionChannel.NOTE,
        text="Кукушкина звонила дважды",
        claim_id=claim.id,
    )
    await add_plan_item(session, claim_id=claim.id, actor=actor, title="Позвонить Кукушкиной", details="ORD-775533")
    await transition(session, claim_id=claim.id, to="in_progress", actor=actor)
    await transition(
        session,
        claim_id=claim.id,
        to="resolved",
        actor=actor,
        result="partially_satisfied",
        resolution="Ольга Кукушкина, вернём половину",
        amount_granted=Decimal("750"),
    )
    await transition(session, claim_id=claim.id, to="closed", actor=actor)
    await record_satisfaction(
        session, claim_id=claim.id, actor=Actor.customer(customer.id), score=4, comment="Спасибо, Кукушкина"
    )
    second = await register_claim(
        session,
        claim_in=NewClaim(customer_id=customer.id, description="Снова опоздали", channel=Channel.TELEGRAM),
        actor=Actor.customer(customer.id),
    )
    session.add(
        FsmRecord(key=f"fsm:{TELEGRAM_ID}:{TELEGRAM_ID}:default", state="Intake:description", data={"d": "Кукушкина"})
    )
    await session.flush()
    return customer, claim, second, staff.id


async def _reports(session) -> dict:
    out = {}
    for name in ("dynamics", "satisfaction", "structure", "ratings"):
        params = REPORTS[name].params(**{"from": "2026-01-01", "to": "2026-12-31"})
        out[name] = (await run_report(session, name, params, tz=MOSCOW)).as_json()
    return out


async def _secrets_left(session) -> list[tuple[str, str]]:
    """(table, secret) for every row of every table whose text holds one of the secrets."""
    found = []
    for table in Base.metadata.sorted_tables:
        for secret in (*SECRETS, str(TELEGRAM_ID)):
            hit = await session.scalar(
                text(f'SELECT count(*) FROM "{table.name}" t WHERE t::text LIKE :s'), {"s": f"%{secret}%"}
            )
            if hit:
                found.append((table.name, secret))
    return found


async def test_export_then_erasure(db, tmp_path: Path) -> None:
    files = tmp_path / "files"
    async with db() as session:
        other = await make_customer(session, name="Иван Другой")
        other_claim = await register_claim(
            session,
            claim_in=NewClaim(
                customer_id=other.id, description="Мой заказ ORD-1", registered_at=datetime(2026, 3, 3, tzinfo=UTC)
            ),
            actor=Actor.customer(other.id),
        )
        customer, claim, second, staff_id = await _person(session, files)
        await session.commit()
    admin = Actor.staff(staff_id)

    async with db() as session:
        document = await export_personal_data(session, customer_id=customer.id, actor=admin)
        await session.commit()
    assert document["format"] == "claimdesk.personal-data.v1"
    assert document["customer"]["name"] == "Ольга Кукушкина" and document["customer"]["phone"] == "+79161234567"
    assert [c["number"] for c in document["claims"]] == [claim.number, second.number]
    assert document["claims"][0]["amount_granted"] == "750.00"
    texts = [i["text"] for i in document["interactions"]]
    assert "Вот мой паспорт, Кукушкина" in texts and "Кукушкина звонила дважды" in texts
    (photo,) = [a for i in document["interactions"] for a in i["attachments"]]
    assert (photo["file_name"], photo["kind"], photo["size"]) == ("паспорт_кукушкиной.jpg", "photo", 18)
    assert [p["title"] for p in document["plan_items"]] == ["Позвонить Кукушкиной"]
    assert document["ratings"] == [
        {
            "claim_id": claim.id,
            "number": claim.number,
            "score": 4,
            "comment": "Спасибо, Кукушкина",
            "at": document["ratings"][0]["at"],
        }
    ]
    kinds = {e["kind"] for e in document["events"]["claims"]}
    assert {"registered", "updated", "status_changed", "rated", "plan_item_added"} <= kinds
    assert all(e["claim_id"] in (claim.id, second.id) for e in document["events"]["claims"])
    assert "Иван Другой" not in str(document) and other_claim.number not in str(document)

    # Refused while a claim is still being handled; nothing changes.
    async with db() as session:
        with pytest.raises(Conflict) as refused:
            await erase_personal_data(session, customer_id=customer.id, actor=admin, files_root=files)
        await session.commit()
    assert refused.value.details["numbers"] == second.number
    async with db() as session:
        assert (await session.get_one(Customer, customer.id)).erased_at is None
        await transition(session, claim_id=second.id, to="in_progress", actor=admin)
        await transition(session, claim_id=second.id, to="resolved", actor=admin, result="rejected", resolution="Нет")
        await transition(session, claim_id=second.id, to="closed", actor=admin)
        await session.commit()
        before = await _reports(session)
        figures = (
            await session.execute(
                select(
                    Claim.id,
                    Claim.number,
                    Claim.status,
                    Claim.result,
                    Claim.registered_at,
                    Claim.resolved_at,
                    Claim.closed_at,
                    Claim.amount_claimed,
                    Claim.amount_granted,
                    Claim.reason_id,
                    Claim.culprit_department_id,
                    Claim.satisfaction_score,
                    Claim.channel,
                ).order_by(Claim.id)
            )
        ).all()
    assert (files / "tg" / "AgADkuku").exists()
    async with db() as session:
        holding = {table for table, _ in await _secrets_left(session)}
    assert holding >= {
        "customer",
        "claim",
        "interaction",
        "attachment",
        "claim_event",
        "plan_item",
        "outbox_message",
        "bot_fsm_record",
    }

    async with db() as session:
        erasure = await erase_personal_data(session, customer_id=customer.id, actor=admin, files_root=files)
        await session.commit()
    assert (erasure.claims, erasure.attachments, erasure.files_deleted) == (2, 1, 1)
    assert not (files / "tg" / "AgADkuku").exists()

    async with db() as session:
        assert await _secrets_left(session) == []
        stored = await session.get_one(Customer, customer.id)
        assert stored.erased_at is not None and stored.name == "[удалено]"
        assert (stored.phone, stored.email, stored.username, stored.telegram_user_id, stored.notes) == (None,) * 5
        kept = await session.get_one(Claim, claim.id)
        assert (kept.subject, kept.description, kept.resolution, kept.order_ref) == ("[удалено]",) * 3 + (None,)
        (attachment,) = (await session.scalars(select(Attachment))).all()
        assert (attachment.removed_reason, attachment.tg_file_id, attachment.storage_path) == ("erased", None, None)
        assert (attachment.kind, attachment.size) == ("photo", 18)
        # Every figure the reports count is as it was, and so are the reports.
        assert (
            await session.execute(
                select(
                    Claim.id,
                    Claim.number,
                    Claim.status,
                    Claim.result,
                    Claim.registered_at,
                    Claim.resolved_at,
                    Claim.closed_at,
                    Claim.amount_claimed,
                    Claim.amount_granted,
                    Claim.reason_id,
                    Claim.culprit_department_id,
                    Claim.satisfaction_score,
                    Claim.channel,
                ).order_by(Claim.id)
            )
        ).all() == figures
        assert await _reports(session) == before
        # The other customer is untouched.
        assert (await session.get_one(Customer, other.id)).name == "Иван Другой"
        assert (await session.get_one(Claim, other_claim.id)).description == "Мой заказ ORD-1"
        assert await session.scalar(select(OutboxMessage.id).where(OutboxMessage.chat_id == TELEGRAM_ID)) is None
        interactions = (await session.scalars(select(Interaction).where(Interaction.customer_id == customer.id))).all()
        assert interactions and all(i.text == "[удалено]" and i.tg_chat_id is None for i in interactions)
        events = (
            await session.scalars(
                select(CustomerEvent).where(CustomerEvent.customer_id == customer.id).order_by(CustomerEvent.id)
            )
        ).all()
        assert [(e.kind, e.actor_kind, e.actor_staff_id) for e in events] == [
            ("exported", "staff", staff_id),
            ("erased", "staff", staff_id),
        ]
        assert events[1].details["files_deleted"] == 1
        assert await session.scalar(select(ClaimEvent.id).where(ClaimEvent.claim_id == claim.id).limit(1))

    async with db() as session:
        with pytest.raises(Conflict):
            await erase_personal_data(session, customer_id=customer.id, actor=admin, files_root=files)


async def test_erasure_clears_the_wizard_kept_in_redis(db, tmp_path: Path, redis_url: str, monkeypatch) -> None:
    from redis.asyncio import Redis

    monkeypatch.setenv("REDIS_URL", redis_url)
    get_settings.cache_clear()
    client = Redis.from_url(redis_url)
    try:
        async with db() as session:
            customer = await make_customer(session)
            other = await make_customer(session)
            await session.commit()
        mine, theirs = customer.telegram_user_id, other.telegram_user_id
        await client.set(f"fsm:{mine}:{mine}:default:state", "Intake:description")
        await client.set(f"fsm:{mine}:{mine}:default:data", '{"description": "Кукушкина"}')
        await client.set(f"fsm:{theirs}:{theirs}:default:data", "{}")
        async with db() as session:
            await erase_personal_data(session, customer_id=customer.id, actor=Actor.system(), files_root=tmp_path)
            await session.commit()
        assert sorted(k.decode() for k in await client.keys("fsm:*")) == [f"fsm:{theirs}:{theirs}:default:data"]
    finally:
        await client.aclose()
        monkeypatch.delenv("REDIS_URL")
        get_settings.cache_clear()
