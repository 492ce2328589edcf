"""Telegram failing on the bot's reply to a decision or a rating: what the customer's tap stored
stays stored (the replies go after the update's transaction commits, `bot.fsm.after_commit`), and
the claim, the survey and the FSM state go on consistently from there."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.sandbox import BotApiEmulator
from shared.audit.models import ClaimEvent
from shared.i18n import get_translator
from shared.notifications.buttons import ACCEPT, DecisionButton
from tests.bot.conftest import running_bot
from tests.delivery.conftest import running_worker
from tests.delivery.test_decision_survey import _claim, _resolved, forge


async def _events(db, claim_id: int) -> list[str]:
    async with db() as session:
        return list(await session.scalars(select(ClaimEvent.kind).where(ClaimEvent.claim_id == claim_id)))


@pytest.mark.parametrize("method", ["answerCallbackQuery", "editMessageText"])
async def test_accept_survives_a_failed_reply(db, emu: BotApiEmulator, database_url: str, method: str) -> None:
    t = get_translator("ru")
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        _, decision = await user.wait_for_messages(2, timeout=10)
        emu.faults.inject(method=method, kind=500, times=1)
        qid = await user.press(decision, text=t("delivery.button.accept"))
        # The closing message (with the survey) is the outbox's: it exists only if Accept committed.
        (closing,) = await user.wait_for_messages(1, timeout=10)
        assert emu.faults.pending == 0  # the reply did fail
        assert t("delivery.survey.question") in (closing.text or "")
        assert (await _claim(db, claim.id)).status == "closed"
        if method == "answerCallbackQuery":
            assert not [a for a in user.answers if a["callback_query_id"] == qid]  # that reply was lost
            assert decision.reply_markup is None  # the next one still went
        else:
            assert (await user.wait_for_answer(qid))["text"] == t("delivery.decision.accepted")
            assert decision.reply_markup is not None  # the buttons stayed: a stale tap is refused
            again = await user.press(decision, text=t("delivery.button.accept"))
            assert (await user.wait_for_answer(again))["text"] == t("delivery.decision.not_current")
        # The survey goes on from the committed state.
        rate = await user.press(closing, text="5")
        assert (await user.wait_for_answer(rate))["text"] == t("delivery.survey.thanks")
        (ask,) = await user.wait_for_messages(1)
        assert ask.text == t("delivery.survey.ask_comment")
        await user.sleep_until_quiet(0.2)
    fresh = await _claim(db, claim.id)
    assert (fresh.status, fresh.satisfaction_score) == ("closed", 5)
    kinds = await _events(db, claim.id)
    assert kinds.count("rated") == 1 and kinds.count("disputed") == 0


async def test_dispute_survives_a_lost_question(db, emu: BotApiEmulator, database_url: str) -> None:
    """The "why?" question is lost: the customer is still in the dispute form, and their next
    message reopens the claim."""
    t = get_translator("ru")
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        _, decision = await user.wait_for_messages(2, timeout=10)
        emu.faults.inject(method="sendMessage", chat_id=user.id, kind=500, times=1)
        qid = await user.press(decision, text=t("delivery.button.dispute"))
        await user.wait_for_answer(qid)
        await emu.world.wait_for(lambda: emu.faults.pending == 0, 5)
        await user.sleep_until_quiet(0.2)
        assert not user.unread()  # the question was lost
        await user.send_text("Курьер так и не приехал")
        (received,) = await user.wait_for_messages(1, timeout=10)
        assert "снова в работе" in (received.text or "")
    fresh = await _claim(db, claim.id)
    assert (fresh.status, fresh.result) == ("in_progress", None)
    assert (await _events(db, claim.id)).count("disputed") == 1


@pytest.mark.parametrize("method", ["answerCallbackQuery", "sendMessage"])
async def test_rating_survives_a_failed_reply(db, emu: BotApiEmulator, database_url: str, method: str) -> None:
    t = get_translator("ru")
    claim, user = await _resolved(db, emu)
    async with running_worker(db, emu, database_url), running_bot(emu, db):
        _, decision = await user.wait_for_messages(2, timeout=10)
        await user.press(decision, text=t("delivery.button.accept"))
        (closing,) = await user.wait_for_messages(1, timeout=10)
        await user.sleep_until_quiet(0.2)
        emu.faults.inject(method=method, chat_id=user.id if method == "sendMessage" else None, kind=500, times=1)
        qid = await user.press(closing, text="4")
        await emu.world.wait_for(lambda: emu.faults.pending == 0, 5)
        await user.sleep_until_quiet(0.3)
        if method == "sendMessage":
            assert (await user.wait_for_answer(qid))["text"] == t("delivery.survey.thanks")
            assert not user.unread()  # the comment question was lost
        else:
            (ask,) = await user.wait_for_messages(1)
            assert ask.text == t("delivery.survey.ask_comment")
        assert closing.reply_markup is None
        # Stored: a second rating is refused, and the comment form is open.
        again = forge(user, emu, f"sv:{claim.id}:1")
        assert (await user.wait_for_answer(again))["text"] == t("delivery.survey.already")
        await user.send_text("Спасибо")
        (thanks,) = await user.wait_for_messages(1)
        assert thanks.text == t("delivery.survey.comment_thanks")
        # The decision is settled too: Accept again is no longer current.
        stale = forge(user, emu, DecisionButton(action=ACCEPT, claim_id=claim.id, stamp=0).pack())
        assert (await user.wait_for_answer(stale))["text"] in {
            t("delivery.decision.not_current"),
            t("delivery.not_found"),
        }
    fresh = await _claim(db, claim.id)
    assert (fresh.status, fresh.satisfaction_score, fresh.satisfaction_comment) == ("closed", 4, "Спасибо")
    kinds = await _events(db, claim.id)
    assert kinds.count("rated") == 1 and kinds.count("rating_commented") == 1
