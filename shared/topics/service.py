"""What staff do from the staff group: who may act (a linked, active staff user: shared.staff.telegram),
which claim a topic is, and each action through the same services and workflow as the web UI.

The bot's group router parses the update and calls one function here; the outcome names the text
of the answer (a key in the topics catalog). Replies in the group are outbox rows (posts in the
topic), like everything the desk sends; only a button press's own answer is immediate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.catalogs.models import Department, Reason
from shared.catalogs.service import list_entries
from shared.claims import service as claims
from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus
from shared.enums import Direction, InteractionChannel
from shared.errors import DomainError
from shared.i18n import Translator
from shared.interactions.service import AttachmentIn, TelegramRef, log_interaction, reply_to_customer
from shared.notifications.texts import esc
from shared.staff.models import StaffUser
from shared.staff.telegram import staff_for_telegram_user
from shared.topics import card
from shared.topics.card import TopicButton, staff_translator
from shared.topics.models import ClaimTopic
from shared.topics.posts import post_in_topic

log = logging.getLogger("claimdesk.topics")

NOTE_PREFIX = "//"  # a message starting with it stays in the desk as an internal note


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of a staff action: `key` names the answer's text (`topics.outcome.*`)."""

    key: str
    detail: str = ""


IGNORED = Outcome("ignored")


async def acting_staff(session: AsyncSession, *, telegram_user_id: int, what: str) -> StaffUser | None:
    """The linked, active staff user behind a Telegram account; anyone else is ignored and logged."""
    staff = await staff_for_telegram_user(session, telegram_user_id=telegram_user_id)
    if staff is None:
        log.info(
            "staff group: %s by Telegram user %s ignored: not a linked, active staff member", what, telegram_user_id
        )
    return staff


async def topic_at(session: AsyncSession, *, chat_id: int, thread_id: int) -> ClaimTopic | None:
    return await session.scalar(
        select(ClaimTopic).where(ClaimTopic.chat_id == chat_id, ClaimTopic.thread_id == thread_id)
    )


async def staff_message(
    session: AsyncSession,
    *,
    chat_id: int,
    thread_id: int | None,
    telegram_user_id: int,
    text: str,
    telegram: TelegramRef,
    attachments: Sequence[AttachmentIn] = (),
) -> Outcome:
    """A message in a claim's topic: the resolution text staff were asked for, an internal note
    (`//...`), or an answer to the customer (an outbound interaction authored by that staff user,
    delivered through the outbox). Anything else in the group is none of the desk's business."""
    if thread_id is None:
        return IGNORED
    topic = await topic_at(session, chat_id=chat_id, thread_id=thread_id)
    if topic is None:
        return IGNORED
    staff = await acting_staff(session, telegram_user_id=telegram_user_id, what="a message")
    if staff is None:
        return IGNORED
    actor = Actor.staff(staff.id)
    t = staff_translator()
    if topic.resolve_staff_id == staff.id and topic.resolve_result and topic.resolve_text is None:
        # Resolve...: this is the decision's text; shown back for confirmation, nothing sent yet.
        if not text.strip():
            return IGNORED
        topic.resolve_text = text
        await session.flush()
        preview = t(
            "topics.resolve.preview",
            result=t(f"result.{topic.resolve_result}"),
            text=esc(text),
        )
        await post_in_topic(
            session, claim_id=topic.claim_id, text=preview, reply_markup=card.confirm_markup(t, topic.claim_id)
        )
        return Outcome("resolution_drafted")
    try:
        if text.startswith(NOTE_PREFIX):
            await log_interaction(
                session,
                actor=actor,
                direction=Direction.INTERNAL,
                channel=InteractionChannel.NOTE,
                text=text[len(NOTE_PREFIX) :].strip() or text,
                claim_id=topic.claim_id,
                author_id=staff.id,
                telegram=telegram,
                attachments=attachments,
            )
            return Outcome("noted")
        await reply_to_customer(
            session,
            claim_id=topic.claim_id,
            actor=actor,
            text=text,
            author_id=staff.id,
            attachments=attachments,
            telegram=telegram,
        )
    except DomainError as exc:
        await post_in_topic(session, claim_id=topic.claim_id, text=t("topics.refused", reason=esc(exc.message)))
        return Outcome("refused", exc.message)
    return Outcome("replied")


async def press(session: AsyncSession, *, telegram_user_id: int, button: TopicButton) -> Outcome:
    """A button of a claim's topic (the card, the result choice, the preview, a catalog list)."""
    staff = await acting_staff(session, telegram_user_id=telegram_user_id, what=f"button {button.action}")
    if staff is None:
        return Outcome("not_allowed")
    claim = await session.get(Claim, button.claim_id)
    if claim is None:
        return Outcome("not_found")
    actor = Actor.staff(staff.id)
    t = staff_translator()
    try:
        return await _act(session, t=t, actor=actor, staff=staff, claim=claim, button=button)
    except DomainError as exc:
        # The same refusals as in the web UI, said where the staff member works.
        await post_in_topic(session, claim_id=claim.id, text=t("topics.refused", reason=esc(exc.message)))
        return Outcome("refused", exc.message)


async def _act(
    session: AsyncSession, *, t: Translator, actor: Actor, staff: StaffUser, claim: Claim, button: TopicButton
) -> Outcome:
    action = button.action
    if action == card.TAKE:
        await claims.assign(session, claim_id=claim.id, actor=actor, responsible_id=staff.id)
        if claim.status == ClaimStatus.NEW.value:
            await claims.transition(session, claim_id=claim.id, to=ClaimStatus.IN_PROGRESS, actor=actor)
        await post_in_topic(session, claim_id=claim.id, text=t("topics.taken", who=esc(staff.full_name or staff.login)))
        return Outcome("taken")
    if action in (card.REASON, card.DEPARTMENT):
        model = Reason if action == card.REASON else Department
        entries = await list_entries(session, model, include_inactive=False)
        if not entries:
            return Outcome("catalog_empty")
        setter = card.SET_REASON if action == card.REASON else card.SET_DEPARTMENT
        rows = [[card.button(entry.name, setter, claim.id, entry.id)] for entry in entries[:50]]
        key = "topics.pick_reason" if action == card.REASON else "topics.pick_department"
        await post_in_topic(session, claim_id=claim.id, text=t(key), reply_markup={"inline_keyboard": rows})
        return Outcome("asked")
    if action in (card.SET_REASON, card.SET_DEPARTMENT):
        field = "reason_id" if action == card.SET_REASON else "culprit_department_id"
        await claims.assign(session, claim_id=claim.id, actor=actor, **{field: button.arg})
        return Outcome("saved")
    topic = await session.get(ClaimTopic, claim.id)
    if topic is None:
        return Outcome("not_found")
    if action == card.RESOLVE:
        await post_in_topic(
            session,
            claim_id=claim.id,
            text=t("topics.resolve.ask_result"),
            reply_markup=card.results_markup(t, claim.id),
        )
        return Outcome("asked")
    if action == card.RESULT:
        if not 0 <= button.arg < len(card.RESULTS):
            return Outcome("not_found")
        topic.resolve_staff_id = staff.id
        topic.resolve_result = card.RESULTS[button.arg].value
        topic.resolve_text = None
        await session.flush()
        await post_in_topic(
            session,
            claim_id=claim.id,
            text=t(
                "topics.resolve.ask_text",
                who=esc(staff.full_name or staff.login),
                result=t(f"result.{topic.resolve_result}"),
            ),
        )
        return Outcome("asked")
    if action == card.CANCEL:
        if topic.resolve_staff_id != staff.id:
            return Outcome("not_yours")
        topic.resolve_staff_id = topic.resolve_result = topic.resolve_text = None
        await session.flush()
        return Outcome("cancelled")
    if action == card.CONFIRM:
        if topic.resolve_staff_id != staff.id or not topic.resolve_result or topic.resolve_text is None:
            return Outcome("not_yours")
        result, text = topic.resolve_result, topic.resolve_text
        # The web UI's own path: the workflow refuses what it refuses there (and says why).
        await claims.transition(
            session, claim_id=claim.id, to=ClaimStatus.RESOLVED, actor=actor, result=result, resolution=text
        )
        topic.resolve_staff_id = topic.resolve_result = topic.resolve_text = None
        await session.flush()
        return Outcome("resolved")
    return Outcome("not_found")
