"""Every failure path of a staff reply, through the emulator with Telegram's limits on: what the
customer received and what is stored on the interaction (and the outbox row)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from bot.delivery.render import TEXT_LIMIT
from bot.delivery.worker import NOTE_PLAIN, REASON_BLOCKED
from bot.sandbox import BotApiEmulator
from shared.customers.models import Customer
from shared.enums import AttachmentKind
from shared.interactions.models import Interaction
from shared.interactions.service import AttachmentIn
from shared.outbox.models import OutboxMessage
from tests.delivery.conftest import as_delivered, claim_for, running_worker, staff_reply, wait_until
from tests.delivery.test_concurrency import _check_chats, _queue, _statuses


async def _interaction(db, interaction_id: int) -> Interaction:
    async with db() as session:
        return await session.get_one(Interaction, interaction_id)


async def _outbox(db, interaction_id: int) -> OutboxMessage:
    async with db() as session:
        return await session.scalar(select(OutboxMessage).where(OutboxMessage.interaction_id == interaction_id))


async def _settled(db, interaction_id: int, timeout: float = 15.0) -> Interaction:
    async def done() -> Interaction | None:
        row = await _interaction(db, interaction_id)
        return row if row.delivery_state != "queued" else None

    return await wait_until(done, timeout)


async def test_reply_delivered_and_recorded(db, flood_emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    async with running_worker(db, flood_emu, database_url):
        iid = await staff_reply(db, claim, staff, "Здравствуйте! Мы вернём деньги <в течение> 3 дней & извинимся.")
        (got,) = await user.wait_for_messages(1, timeout=5)
        row = await _settled(db, iid)
    assert got.text == as_delivered(claim, "Здравствуйте! Мы вернём деньги <в течение> 3 дней & извинимся.")
    # Staff text goes as typed (escaped: nothing to break) under the claim's number in bold.
    assert got.parse_mode == "HTML" and got.entities[0]["type"] == "bold"
    assert (row.delivery_state, row.tg_message_id, row.tg_chat_id) == ("sent", got.message_id, user.id)
    assert row.delivered_at is not None and row.delivery_error is None
    box = await _outbox(db, iid)
    assert (box.status, box.attempts, box.tg_message_id) == ("sent", 1, got.message_id)
    assert flood_emu.stats["responses_429"] == 0


async def _chat(db, customer_id: int) -> int:
    async with db() as session:
        customer = await session.get_one(Customer, customer_id)
        assert customer.telegram_chat_id is not None
        return customer.telegram_chat_id


async def test_429_waits_retry_after(db, flood_emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    flood_emu.faults.inject(method="sendMessage", chat_id=user.id, kind=429, retry_after=1)
    async with running_worker(db, flood_emu, database_url) as worker:
        iid = await staff_reply(db, claim, staff, "ответ после 429")
        row = await _settled(db, iid)
        box = await _outbox(db, iid)
    assert row.delivery_state == "sent" and [m.text for m in user.messages] == [as_delivered(claim, "ответ после 429")]
    assert worker.stats["rate_limited"] == 1 and box.attempts == 2
    # The retry waited retry_after: the second attempt came at least a second after the first.
    assert (box.sent_at - box.created_at).total_seconds() >= 1.0
    assert flood_emu.stats["responses_429"] == 1  # only the injected one: the pacing caused none


async def test_5xx_and_timeouts_are_retried(db, flood_emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    flood_emu.faults.inject(method="sendMessage", chat_id=user.id, kind=500)
    flood_emu.faults.inject(method="sendMessage", chat_id=user.id, kind=502)
    flood_emu.faults.inject(method="sendMessage", chat_id=user.id, kind="timeout", hold=1.5)
    async with running_worker(db, flood_emu, database_url, timeout=0.5) as worker:
        iid = await staff_reply(db, claim, staff, "пробились")
        row = await _settled(db, iid)
    box = await _outbox(db, iid)
    assert row.delivery_state == "sent" and row.tg_message_id == user.messages[0].message_id
    assert [m.text for m in user.messages] == [as_delivered(claim, "пробились")]
    assert box.attempts == 4 and worker.stats["transient"] == 3
    assert flood_emu.stats["flood_429"] == 0


async def test_persistent_5xx_fails_after_the_limit(db, emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, emu)
    user = emu.user(await _chat(db, claim.customer_id))
    emu.faults.inject(method="sendMessage", chat_id=user.id, kind=502, times=100)
    async with running_worker(db, emu, database_url, max_attempts=3):
        iid = await staff_reply(db, claim, staff, "не дойдёт")
        row = await _settled(db, iid)
    box = await _outbox(db, iid)
    assert row.delivery_state == "failed" and user.messages == []
    assert row.delivery_error is not None and "after 3 attempts" in row.delivery_error
    assert (box.status, box.attempts) == ("failed", 3)


async def test_bad_formatting_is_sent_as_plain_text(db, flood_emu: BotApiEmulator, database_url: str) -> None:
    from shared.notifications.flows import queue_customer_message

    async with db() as session, session.begin():
        claim, _ = await claim_for(session, flood_emu)
        interaction = await queue_customer_message(
            session, claim=claim, text="<b>Решение</b> по заявке: вернём 100 &amp; извинимся", kind="test"
        )
        assert interaction is not None
        iid = interaction.id
    user = flood_emu.user(await _chat(db, claim.customer_id))
    flood_emu.faults.inject(method="sendMessage", chat_id=user.id, kind=400)
    async with running_worker(db, flood_emu, database_url) as worker:
        row = await _settled(db, iid)
    (got,) = user.messages
    assert got.text == "Решение по заявке: вернём 100 & извинимся" and got.parse_mode is None
    assert row.delivery_state == "sent" and row.tg_message_id == got.message_id
    assert worker.stats["plain_fallback"] == 1
    assert (await _outbox(db, iid)).last_error == NOTE_PLAIN


async def test_blocked_bot_is_permanent(db, flood_emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    user.block()
    async with running_worker(db, flood_emu, database_url) as worker:
        iid = await staff_reply(db, claim, staff, "вы нас заблокировали")
        row = await _settled(db, iid)
        # An injected 403 behaves the same, and nothing is retried.
        user.unblock()
        flood_emu.faults.inject(method="sendMessage", chat_id=user.id, kind=403)
        second = await staff_reply(db, claim, staff, "и снова")
        row2 = await _settled(db, second)
    assert row.delivery_state == "failed" and row.delivery_error == REASON_BLOCKED
    assert row2.delivery_state == "failed" and row2.delivery_error == REASON_BLOCKED
    assert user.messages == [] and worker.stats["retried"] == 0
    box = await _outbox(db, iid)
    assert (box.status, box.attempts) == ("failed", 1)
    async with db() as session:
        customer = await session.get_one(Customer, claim.customer_id)
    assert customer.bot_blocked_at is not None


async def test_long_text_is_split_in_order(db, flood_emu: BotApiEmulator, database_url: str) -> None:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    paragraphs = [f"Абзац {i}: " + "слово " * 150 for i in range(12)]  # ~11,000 characters
    text = "\n\n".join(paragraphs)
    async with running_worker(db, flood_emu, database_url):
        iid = await staff_reply(db, claim, staff, text)
        row = await _settled(db, iid, timeout=20)
    parts = user.messages
    assert len(parts) == 3 and all(len(p.text or "") <= TEXT_LIMIT for p in parts)
    assert " ".join(p.text or "" for p in parts).split() == as_delivered(claim, text).split()
    assert row.delivery_state == "sent" and row.tg_message_id == parts[0].message_id
    assert flood_emu.stats["responses_429"] == 0  # three parts to one chat, a second apart


async def test_staff_files_go_as_document_and_photo(db, emu: BotApiEmulator, database_url: str, tmp_path: Path) -> None:
    from bot.sandbox.files import tiny_png

    (tmp_path / "act.pdf").write_bytes(b"%PDF-1.4 act of inspection")
    (tmp_path / "box.png").write_bytes(tiny_png(8, 8))
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, emu)
    user = emu.user(await _chat(db, claim.customer_id))
    files = (
        AttachmentIn(
            kind=AttachmentKind.DOCUMENT, storage_path="act.pdf", file_name="act.pdf", mime_type="application/pdf"
        ),
        AttachmentIn(kind=AttachmentKind.PHOTO, storage_path="box.png", file_name="box.png", mime_type="image/png"),
    )
    async with running_worker(db, emu, database_url, files_dir=tmp_path):
        iid = await staff_reply(db, claim, staff, "Акт осмотра и фото", files)
        row = await _settled(db, iid)
    kinds = [(m.kind, m.file_name) for m in user.messages]
    assert user.messages[0].text == as_delivered(claim, "Акт осмотра и фото")
    assert [k for k, _ in kinds[1:]] == ["document", "photo"] and kinds[1][1] == "act.pdf"
    assert row.delivery_state == "sent" and row.tg_message_id == user.messages[0].message_id
    assert await user.download(user.messages[1].file_id or "") == b"%PDF-1.4 act of inspection"


async def test_a_long_decision_goes_in_parts_in_order_from_one_outbox_row(
    db, flood_emu: BotApiEmulator, database_url: str
) -> None:
    """A resolution far over Telegram's 4,096 characters (and over the 20,000 the desk once kept):
    the customer gets it whole, in order, in parts cut between paragraphs, the buttons on the last
    part; the outbox keeps one row for the one decision."""
    from shared.claims.service import transition

    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
        await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    paragraphs = [f"Пункт {i}: проверили <партию> № {i} & акт —" + " всё в порядке" * 100 for i in range(20)]
    resolution = "\n\n".join(paragraphs)  # ~29,000 characters, with characters HTML must escape
    async with running_worker(db, flood_emu, database_url):
        await user.wait_for_messages(1, timeout=5)  # "taken into work"
        async with db() as session, session.begin():
            await transition(
                session, claim_id=claim.id, to="resolved", actor=staff, result="rejected", resolution=resolution
            )

        async def decision_sent() -> list[OutboxMessage] | None:
            async with db() as session:
                rows = (
                    await session.scalars(
                        select(OutboxMessage).where(OutboxMessage.payload["kind"].as_string() == "decision")
                    )
                ).all()
            return list(rows) if rows and rows[0].status == "sent" else None

        rows = await wait_until(decision_sent, timeout=40)
    parts = user.messages[1:]
    assert len(parts) >= 8 and all(len(p.text or "") <= TEXT_LIMIT for p in parts)
    assert all(p.parse_mode == "HTML" for p in parts)  # each part parsed as HTML: no tag or entity cut
    received = "\n\n".join(p.text or "" for p in parts)
    at = [received.find(paragraph) for paragraph in paragraphs]
    assert -1 not in at and at == sorted(at)  # every paragraph whole and in order, none cut in two
    assert [bool(p.buttons) for p in parts] == [False] * (len(parts) - 1) + [True]
    assert [(r.status, r.tg_message_id) for r in rows] == [("sent", parts[0].message_id)]
    assert flood_emu.stats["responses_429"] == 0


async def test_the_first_response_is_the_first_reply_that_reached_the_customer(
    db, flood_emu: BotApiEmulator, database_url: str
) -> None:
    """A reply Telegram refused (the customer had blocked the bot) is no answer; the first reply
    delivered is, at the time it was delivered."""
    from shared.claims.models import Claim

    async with db() as session, session.begin():
        claim, staff = await claim_for(session, flood_emu)
    user = flood_emu.user(await _chat(db, claim.customer_id))
    user.block()
    async with running_worker(db, flood_emu, database_url):
        refused = await staff_reply(db, claim, staff, "Здравствуйте! Разбираемся.")
        assert (await _settled(db, refused)).delivery_state == "failed"
        async with db() as session:
            assert (await session.get_one(Claim, claim.id)).first_response_at is None
        user.unblock()
        delivered = await staff_reply(db, claim, staff, "Здравствуйте ещё раз! Разбираемся.")
        row = await _settled(db, delivered)
    assert row.delivery_state == "sent" and [m.text for m in user.messages] == [
        as_delivered(claim, "Здравствуйте ещё раз! Разбираемся.")
    ]
    box = await _outbox(db, delivered)
    async with db() as session:
        stored = await session.get_one(Claim, claim.id)
    assert stored.first_response_at == box.sent_at  # the delivery time, not the time it was queued
    assert stored.first_response_at > row.occurred_at


async def test_a_minute_of_5xx_and_timeouts_loses_and_duplicates_nothing(
    db, emu: BotApiEmulator, database_url: str
) -> None:
    """Telegram answering 500, 502 and timing out (not executing the call) for a while, then back:
    every message arrives once, in its chat's order. A minute at the worker's default backoff
    (from 2 s); here a tenth of both, 6 s from 0.2 s, with the default number of attempts."""
    chats, per_chat = 10, 3
    for chat in range(73_000, 73_000 + chats):
        emu.user(chat, "U")
    kinds = ("500", "502", "timeout")
    for n in range(3_000):
        emu.faults.inject(method="sendMessage", kind=kinds[n % 3], hold=1.0)
    async with running_worker(
        db, emu, database_url, timeout=0.5, backoff_base=0.2, backoff_max=90.0, max_attempts=8,
        total_per_second=1000, chat_interval=0.001,
    ) as worker:  # fmt: skip
        await _queue(db, chats=chats, per_chat=per_chat, first_chat=73_000)
        await asyncio.sleep(6)
        assert worker.stats["transient"] >= chats  # every chat met the outage
        emu.faults.clear()
        await wait_until(lambda: _all_sent(db, chats * per_chat), timeout=40)
        await asyncio.sleep(0.5)
    copies = _check_chats(emu, chats=chats, per_chat=per_chat, first_chat=73_000)
    assert set(copies.values()) == {1}
    assert (await _statuses(db)) == {"sent": chats * per_chat}


async def _all_sent(db, n: int) -> bool:
    return (await _statuses(db)).get("sent", 0) == n
