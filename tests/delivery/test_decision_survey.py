"""Accept, dispute, auto-close and the survey, end to end: the claimdesk bot and the delivery
worker both talking to the emulator, a scripted customer in between."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.routers.decision import DecisionCb
from bot.routers.survey import SurveyCb
from bot.sandbox import BotApiEmulator, UserDriver
from bot.sandbox.world import Callback
from shared.audit.models import ClaimEvent
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.notifications.buttons import ACCEPT, SKIP_COMMENT, DecisionButton, SurveyButton
from shared.notifications.sweeper import sweep_once
from shared.settings import get_settings
from tests.bot.conftest import running_bot
from tests.delivery.conftest import claim_for, running_worker, telegram_customer, wait_until

STAFF_CHAT = 90_001


@pytest.fixture
def staff_chat(monkeypatch: pytest.MonkeyPatch, emu: BotApiEmulator) -> Iterator[UserDriver]:
    monkeypatch.setenv("STAFF_CHAT_ID", str(STAFF_CHAT))
    monkeypatch.setenv("BACKOFFICE_PUBLIC_URL", "https://desk.example.org")
    get_settings.cache_clear()
    yield emu.user(STAFF_CHAT, "Staff room")
    monkeypatch.delenv("STAFF_CHAT_ID")
    monkeypatch.delenv("BACKOFFICE_PUBLIC_URL")
    get_settings.cache_clear()


def forge(user: UserDriver, emu: BotApiEmulator, data: str) -> str:
    """A callback query with any data, as a modified client could send (press() only presses
    buttons that are really there)."""
    message = user.messages[-1]
    cb = Callback(str(secrets.randbits(62)), user.id, message.message_id, data, time.monotonic())
    emu.world.callbacks[cb.id] = cb
    emu.world.push_update(
        "callback_query",
        {
            "id": cb.id,
            "from": user.profile,
            "message": user.chat.messages[message.message_id],
            "chat_instance": emu.world.chat_instance(user.id),
            "data": data,
        },
    )
    return cb.id


async def _resolved(db, emu: BotApiEmulator, *, lang: str = "ru", at=None) -> tuple[Claim, UserDriver]:
    async with db() as session, session.begin():
        claim, staff = await claim_for(session, emu, language=lang)
        await transition(session, claim_id=claim.id, to="in_progress", actor=staff)
        await transition(
            session,
            claim_id=claim.id,
            to="resolved",
            actor=staff,
            result="partially_satisfied",
            resolution="Вернём стоимость доставки <полностью> & извинимся",
            amount_granted="1500",
            at=at,
        )
        customer = await session.get_one(Customer, claim.customer_id)
    assert customer.telegram_chat_id is not None
    return claim, emu.user(customer.telegram_chat_id)


async def _claim(db, claim_id: int) -> Claim:
    async with db() as session:
        return await session.get_one(Claim, claim_id)


def test_callback_formats_are_the_bots() -> None:
    """The desk writes its buttons with the shared models; the bot's aiogram factories are built on
    them: same fields, same prefix, same packed text, and each reads what the other writes."""
    assert DecisionCb.model_fields.keys() == DecisionButton.model_fields.keys()
    assert SurveyCb.model_fields.keys() == SurveyButton.model_fields.keys()
    for written, factory in (
        (DecisionButton(action=ACCEPT, claim_id=12, stamp=1_700_000_000), DecisionCb),
        (SurveyButton(claim_id=12, score=5), SurveyCb),
        (SurveyButton(claim_id=7, score=SKIP_COMMENT), SurveyCb),
    ):
        read = factory.unpack(written.pack())
        assert read.model_dump() == written.model_dump()
        assert read.pack() == written.pack()
    assert DecisionCb(action=ACCEPT, claim_id=3, stamp=4).pack() == "dc:a:3:4"


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_accept_closes_and_survey_once(db, emu: BotApiEmulator, database_url: str, lang: str) -> None:
    t = get_translator(lang)
    claim, user = await _resolved(db, emu, lang=lang)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        taken, decision = await user.wait_for_messages(2, timeout=10)
        assert taken.text == t("delivery.taken", number=claim.number).replace("<b>", "").replace("</b>", "")
        assert "Вернём стоимость доставки <полностью> & извинимся" in (decision.text or "")
        # Money as people write it, in the customer's language (Babel).
        money = {"ru": "1\u00a0500,00\u00a0₽", "en": "RUB\u00a01,500.00"}[lang]
        assert money in (decision.text or "") and decision.parse_mode == "HTML"
        assert [b["text"] for b in decision.buttons] == [t("delivery.button.accept"), t("delivery.button.dispute")]

        qid = await user.press(decision, text=t("delivery.button.accept"))
        assert (await user.wait_for_answer(qid))["text"] == t("delivery.decision.accepted")
        (closing,) = await user.wait_for_messages(1, timeout=10)
        assert t("delivery.survey.question") in (closing.text or "")
        assert [b["text"] for b in closing.buttons] == ["1", "2", "3", "4", "5"]
        assert (await _claim(db, claim.id)).status == "closed"
        assert decision.reply_markup is None  # the buttons are gone
        # ... and the decision shows what was chosen.
        assert (decision.text or "").endswith("— " + t("delivery.button.accept"))

        qid = await user.press(closing, text="4")
        assert (await user.wait_for_answer(qid))["text"] == t("delivery.survey.thanks")
        (ask,) = await user.wait_for_messages(1)
        assert ask.text == t("delivery.survey.ask_comment")
        assert closing.reply_markup is None
        assert (closing.text or "").endswith("— " + t("delivery.survey.your_score", score=4))
        assert [b["text"] for b in ask.buttons] == [t("delivery.survey.skip")]
        await user.send_text("Долго, но <честно>")
        (thanks,) = await user.wait_for_messages(1)
        assert thanks.text == t("delivery.survey.comment_thanks")
        # The comment answered the question: its Skip button is gone, the comment shown on it.
        await user.wait_for(lambda _: ask.reply_markup is None)
        assert ask.text == t("delivery.survey.ask_comment") + " — Долго, но <честно>"

        # Answered twice (a second tap, from a stale client): refused, nothing changes.
        again = forge(user, emu, SurveyButton(claim_id=claim.id, score=1).pack())
        assert (await user.wait_for_answer(again))["text"] == t("delivery.survey.already")
        # Another customer, with forged data naming this claim: not found.
        async with db() as session, session.begin():
            other = await telegram_customer(session, emu)
        assert other.telegram_chat_id is not None
        mallory = emu.user(other.telegram_chat_id)
        await mallory.send_text("/start")
        await mallory.wait_for_messages(1, timeout=5)
        stolen = forge(mallory, emu, SurveyButton(claim_id=claim.id, score=1).pack())
        assert (await mallory.wait_for_answer(stolen))["text"] == get_translator("ru")("delivery.not_found")
        stolen = forge(mallory, emu, DecisionButton(action=ACCEPT, claim_id=claim.id, stamp=0).pack())
        assert (await mallory.wait_for_answer(stolen))["text"] == get_translator("ru")("delivery.not_found")
        await user.sleep_until_quiet(0.2)
    fresh = await _claim(db, claim.id)
    assert (fresh.status, fresh.satisfaction_score, fresh.satisfaction_comment) == ("closed", 4, "Долго, но <честно>")
    async with db() as session:
        states = list(
            await session.scalars(
                select(Interaction.delivery_state).where(
                    Interaction.claim_id == claim.id, Interaction.direction == "outbound"
                )
            )
        )
        kinds = list(await session.scalars(select(ClaimEvent.kind).where(ClaimEvent.claim_id == claim.id)))
    assert states == ["sent", "sent", "sent"]  # taken, decision, closing with the survey
    assert kinds.count("rated") == 1 and kinds.count("rating_commented") == 1


async def test_dispute_reopens_and_tells_staff(db, emu: BotApiEmulator, database_url: str, staff_chat) -> None:
    t = get_translator("ru")
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        _, decision = await user.wait_for_messages(2, timeout=10)
        accept_data = decision.buttons[0]["callback_data"]
        await user.press(decision, text=t("delivery.button.dispute"))
        (ask,) = await user.wait_for_messages(1)
        assert ask.text == t("delivery.decision.ask_reason", number=claim.number).replace("<b>", "").replace("</b>", "")
        # The decision shows the choice and keeps no button.
        assert decision.reply_markup is None and decision.text.endswith("— " + t("delivery.button.dispute"))
        reason = await user.send_text("Курьер так и не приехал, <b>деньги</b> не вернули")
        (received,) = await user.wait_for_messages(1, timeout=10)
        assert "снова в работе" in (received.text or "")
        alert = await wait_until(
            lambda: _async([m for m in staff_chat.messages if "оспаривает" in (m.text or "")]), timeout=10
        )
        # The stale decision cannot be accepted any more (its button, pressed by a client that kept it).
        qid = forge(user, emu, accept_data)
        assert (await user.wait_for_answer(qid))["text"] == t("delivery.decision.not_current")
    fresh = await _claim(db, claim.id)
    assert (fresh.status, fresh.result, fresh.resolved_at) == ("in_progress", None, None)
    async with db() as session:
        inbound = await session.scalar(
            select(Interaction).where(Interaction.claim_id == claim.id, Interaction.direction == "inbound")
        )
        events = list(await session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id)))
    assert inbound is not None and inbound.text == "Курьер так и не приехал, <b>деньги</b> не вернули"
    assert inbound.tg_message_id == reason["message_id"]
    disputed = [e for e in events if e.kind == "disputed"]
    assert len(disputed) == 1 and disputed[0].actor_kind == "customer"
    assert disputed[0].after is not None and disputed[0].after["interaction_id"] == inbound.id
    # One user action, one audit event: the reopening is part of `disputed`, not an event of its own.
    assert disputed[0].after["reopened"] is True and disputed[0].after["status"] == "in_progress"
    assert not any(e.kind == "reopened" for e in events)
    text = alert[0].text or ""
    assert claim.number in text and "<b>деньги</b>" in text  # escaped, shown as typed
    assert f"https://desk.example.org/claims/{claim.id}" in text
    # New claims reached the staff chat too.
    assert any("Новая претензия" in (m.text or "") for m in staff_chat.messages)


async def _async(value):  # wait_until wants a coroutine function
    return value


async def test_auto_close_after_silence(db, emu: BotApiEmulator, database_url: str) -> None:
    days = get_settings().auto_close_days
    claim, user = await _resolved(db, emu, at=utcnow() - timedelta(days=days, hours=1))
    fresh_claim, _ = await _resolved(db, emu)  # resolved just now: stays resolved
    result = await sweep_once(db)
    assert result.auto_closed == 1
    again = await sweep_once(db)  # a second sweep (or a second worker) does nothing more
    assert again.auto_closed == 0
    t = get_translator("ru")
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        _, _, closing = await user.wait_for_messages(3, timeout=10)
        assert t("delivery.closed_auto", number=claim.number, days=days).replace("<b>", "").replace("</b>", "") in (
            closing.text or ""
        )
        qid = await user.press(closing, text="2")
        await user.wait_for_answer(qid)
        await user.wait_for_messages(1)
    assert (await _claim(db, claim.id)).status == "closed"
    assert (await _claim(db, claim.id)).satisfaction_score == 2
    assert (await _claim(db, fresh_claim.id)).status == "resolved"
    async with db() as session:
        event = await session.scalar(
            select(ClaimEvent)
            .where(ClaimEvent.claim_id == claim.id, ClaimEvent.kind == "status_changed")
            .order_by(ClaimEvent.id.desc())
        )
    assert event is not None and event.actor_kind == "system"


async def test_sla_reminder_and_overdue_alert(db, emu: BotApiEmulator, database_url: str, staff_chat) -> None:
    from tests.factories import make_claim

    hours = get_settings().sla_first_response_hours
    async with db() as session, session.begin():
        customer = await telegram_customer(session, emu)
        late = await make_claim(session, customer=customer, registered_at=utcnow() - timedelta(hours=hours * 0.8))
        late.due_at = utcnow() - timedelta(minutes=5)
        early = await make_claim(session, customer=customer, registered_at=utcnow() - timedelta(hours=hours * 0.1))
        answered = await make_claim(session, customer=customer, registered_at=utcnow() - timedelta(hours=hours * 0.8))
        answered.first_response_at = utcnow()
    first = await sweep_once(db)
    second = await sweep_once(db)
    assert (first.reminded, first.overdue_alerts) == (1, 1)
    assert (second.reminded, second.overdue_alerts) == (0, 0)  # once per claim
    assert customer.telegram_chat_id is not None
    user = emu.user(customer.telegram_chat_id)
    async with running_worker(db, emu, database_url):
        (reminder,) = await user.wait_for_messages(1, timeout=10)

        async def overdue() -> list:
            return [m for m in staff_chat.messages if "просрочена" in (m.text or "")]

        (alert,) = await wait_until(overdue, timeout=10)
    assert late.number in (reminder.text or "") and "мы о вас помним" in (reminder.text or "")
    assert late.number in (alert.text or "") and early.number not in (reminder.text or "")
    assert answered.number not in (reminder.text or "")
