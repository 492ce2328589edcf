"""Nothing a customer sends while answering a decision or a survey is dropped: a reason for a
decision that moved on, a photo or voice as the reason, a comment the survey cannot take are all
stored as inbound interactions (as the catch-all stores messages), and the customer gets a reply.
A dispute writes exactly one audit event."""

from __future__ import annotations

from sqlalchemy import select, update

from bot.sandbox import BotApiEmulator
from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.bot_state.models import FsmRecord
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.i18n import get_translator
from shared.interactions.models import Attachment, Interaction
from tests.bot.conftest import running_bot
from tests.delivery.conftest import running_worker, wait_until
from tests.delivery.test_decision_survey import _claim, _resolved

T = get_translator("ru")


def _plain(text: str) -> str:
    return text.replace("<b>", "").replace("</b>", "")


async def _inbound(db, customer_id: int) -> list[Interaction]:
    async with db() as session:
        rows = await session.scalars(
            select(Interaction)
            .where(Interaction.customer_id == customer_id, Interaction.direction == "inbound")
            .order_by(Interaction.id)
        )
        return list(rows.all())


async def _attachments(db, interaction_id: int) -> list[str]:
    async with db() as session:
        return list(await session.scalars(select(Attachment.kind).where(Attachment.interaction_id == interaction_id)))


async def _events_since(db, claim_id: int, after_id: int) -> list[ClaimEvent]:
    async with db() as session:
        rows = await session.scalars(
            select(ClaimEvent).where(ClaimEvent.claim_id == claim_id, ClaimEvent.id > after_id).order_by(ClaimEvent.id)
        )
        return list(rows.all())


async def _last_event_id(db) -> int:
    async with db() as session:
        return int(await session.scalar(select(ClaimEvent.id).order_by(ClaimEvent.id.desc()).limit(1)) or 0)


async def _ask_reason(user, claim) -> None:
    _, decision = await user.wait_for_messages(2, timeout=10)
    await user.press(decision, text=T("delivery.button.dispute"))
    (ask,) = await user.wait_for_messages(1)
    assert ask.text == _plain(T("delivery.decision.ask_reason", number=claim.number))


async def test_dispute_reason_kept_when_the_decision_moved_on(db, emu: BotApiEmulator, database_url: str) -> None:
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        await _ask_reason(user, claim)
        # While the customer types, the claim closes (staff, or the auto-close).
        async with db() as session, session.begin():
            await transition(session, claim_id=claim.id, to="closed", actor=Actor.system())
        await user.wait_for_messages(1, timeout=10)  # the closing message with the survey
        await user.send_text("Курьер так и не приехал")
        (reply,) = await user.wait_for_messages(1, timeout=10)
        assert reply.text == T("delivery.decision.not_current")
    (stored,) = await _inbound(db, claim.customer_id)
    assert stored.text == "Курьер так и не приехал"
    assert stored.claim_id is None  # the claim is closed and there is no other open one: kept without a claim
    assert (await _claim(db, claim.id)).status == "closed"


async def test_dispute_reason_kept_when_the_claim_is_not_theirs(db, emu: BotApiEmulator, database_url: str) -> None:
    claim, user = await _resolved(db, emu)
    other, _ = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        await _ask_reason(user, claim)

        # The dialogue state names someone else's claim (as forged or corrupted state would).
        async def stored_state() -> bool:
            async with db() as session:
                query = select(FsmRecord.key).where(FsmRecord.data.has_key("dispute_claim_id"))
                return bool(await session.scalar(query))

        await wait_until(stored_state)  # the question may arrive before its update committed
        async with db() as session, session.begin():
            record = await session.scalar(select(FsmRecord).where(FsmRecord.data.has_key("dispute_claim_id")))
            assert record is not None and record.data["dispute_claim_id"] == claim.id
            record.data = {**record.data, "dispute_claim_id": other.id}
        await user.send_text("Не согласен")
        (reply,) = await user.wait_for_messages(1, timeout=10)
        assert reply.text == T("delivery.not_found")
    (stored,) = await _inbound(db, claim.customer_id)
    assert stored.text == "Не согласен" and stored.claim_id is None  # the customer's own claim is resolved, not open
    assert (await _claim(db, other.id)).status == "resolved"


async def test_photo_with_caption_is_the_reason(db, emu: BotApiEmulator, database_url: str) -> None:
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        await _ask_reason(user, claim)
        mark = await _last_event_id(db)
        await user.send_photo(caption="Вот коробка, она <пустая>")
        (received,) = await user.wait_for_messages(1, timeout=10)
        assert "снова в работе" in (received.text or "")
    assert (await _claim(db, claim.id)).status == "in_progress"
    (stored,) = await _inbound(db, claim.customer_id)
    assert (stored.claim_id, stored.text) == (claim.id, "Вот коробка, она <пустая>")
    assert await _attachments(db, stored.id) == ["photo"]
    (event,) = await _events_since(db, claim.id, mark)
    assert event.kind == "disputed" and event.after is not None
    assert (event.after["interaction_id"], event.after["attachments"]) == (stored.id, 1)


async def test_voice_without_caption_is_kept_and_the_reason_asked(db, emu: BotApiEmulator, database_url: str) -> None:
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        await _ask_reason(user, claim)
        await user.send_voice()
        (reply,) = await user.wait_for_messages(1, timeout=10)
        assert reply.text == T("delivery.decision.reason_needed")
        assert (await _claim(db, claim.id)).status == "resolved"  # no reason in words yet
        # Still waiting for the reason: words now dispute the decision.
        await user.send_text("Не привезли заказ")
        (received,) = await user.wait_for_messages(1, timeout=10)
        assert "снова в работе" in (received.text or "")
    voice, reason = await _inbound(db, claim.customer_id)
    assert voice.claim_id == claim.id and await _attachments(db, voice.id) == ["voice"]
    assert (reason.claim_id, reason.text) == (claim.id, "Не привезли заказ")
    assert (await _claim(db, claim.id)).status == "in_progress"


async def test_a_dispute_writes_one_audit_event(db, emu: BotApiEmulator, database_url: str) -> None:
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        await _ask_reason(user, claim)
        mark = await _last_event_id(db)
        await user.send_text("Деньги не вернули")
        await user.wait_for_messages(1, timeout=10)
    (event,) = await _events_since(db, claim.id, mark)
    (stored,) = await _inbound(db, claim.customer_id)
    assert (event.kind, event.actor_kind) == ("disputed", "customer")
    assert event.before is not None and event.before["status"] == "resolved"
    assert event.before["result"] == "partially_satisfied"
    assert event.after == {
        "status": "in_progress",
        "result": None,
        "reopened": True,
        "reason": "Деньги не вернули",
        "interaction_id": stored.id,
        "attachments": 0,
    }


async def test_survey_comment_kept_after_a_conflict(db, emu: BotApiEmulator, database_url: str) -> None:
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        _, decision = await user.wait_for_messages(2, timeout=10)
        await user.press(decision, text=T("delivery.button.accept"))
        (closing,) = await user.wait_for_messages(1, timeout=10)
        qid = await user.press(closing, text="3")
        await user.wait_for_answer(qid)
        (ask,) = await user.wait_for_messages(1)
        assert ask.text == T("delivery.survey.ask_comment")
        # A comment got there first (another device, a second tap): this one cannot be the comment.
        async with db() as session, session.begin():
            await session.execute(update(Claim).where(Claim.id == claim.id).values(satisfaction_comment="первый"))
        await user.send_text("Долго, но решили")
        (reply,) = await user.wait_for_messages(1, timeout=10)
        assert reply.text == T("delivery.survey.already")
    (stored,) = await _inbound(db, claim.customer_id)
    assert stored.text == "Долго, но решили" and stored.claim_id is None  # the rated claim is closed
    assert (await _claim(db, claim.id)).satisfaction_comment == "первый"
