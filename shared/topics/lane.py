"""The delivery worker's side of the staff chat's topics: what a topic should look like now, the
thread Telegram gave it, the group's refusal of topics, and combining a claim's piled-up texts.

Like shared.outbox.queue, each function runs its own short transaction (the caller passes a session
factory): the worker holds no transaction across a Telegram call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.claims.models import Claim
from shared.claims.workflow import ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.notifications.texts import esc
from shared.outbox.queue import LeasedMessage
from shared.topics.card import STATUS_ICONS, card_markup, card_text, customer_label, staff_translator, topic_name
from shared.topics.models import ClaimTopic, StaffGroup
from shared.topics.posts import RECHECK

log = logging.getLogger("claimdesk.topics")

Sessions = async_sessionmaker[AsyncSession]
TEXT_LIMIT = 4096  # one combined post stays one Telegram message


@dataclass(frozen=True, slots=True)
class TopicState:
    """A claim's topic as it is (`thread_id`, `name`, `icon`, `closed`) and as it should be."""

    claim_id: int
    chat_id: int
    thread_id: int | None
    name: str | None
    icon: str | None
    closed: bool
    want_name: str
    want_icon: str
    want_closed: bool
    forum: bool  # False: the group refused topics lately (flat posts)
    card_text: str
    card_markup: dict[str, Any]


async def topic_state(sessions: Sessions, *, claim_id: int) -> TopicState | None:
    """None when the claim has no topic (or no longer exists)."""
    async with sessions() as session:
        topic = await session.get(ClaimTopic, claim_id)
        claim = await session.get(Claim, claim_id)
        if topic is None or claim is None:
            return None
        customer = await session.get_one(Customer, claim.customer_id)
        group = await session.get(StaffGroup, topic.chat_id)
        forum = group is None or group.forum or group.checked_at < utcnow() - RECHECK
        t = staff_translator()
        return TopicState(
            claim_id=claim_id,
            chat_id=topic.chat_id,
            thread_id=topic.thread_id,
            name=topic.name,
            icon=topic.icon,
            closed=topic.closed,
            want_name=topic_name(t, number=claim.number, status=claim.status, customer=customer_label(customer)),
            want_icon=STATUS_ICONS[claim.status],
            want_closed=claim.status == ClaimStatus.CLOSED.value,
            forum=forum,
            card_text=await card_text(session, t, claim, customer),
            card_markup=card_markup(t, claim),
        )


async def topic_created(sessions: Sessions, *, claim_id: int, thread_id: int, name: str, icon: str | None) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(ClaimTopic)
            .where(ClaimTopic.claim_id == claim_id)
            .values(thread_id=thread_id, name=name, icon=icon, closed=False)
        )
        await _group_is(session, chat_id=(await session.get_one(ClaimTopic, claim_id)).chat_id, forum=True)


async def topic_synced(sessions: Sessions, *, claim_id: int, name: str, icon: str | None, closed: bool) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(ClaimTopic).where(ClaimTopic.claim_id == claim_id).values(name=name, icon=icon, closed=closed)
        )


async def topic_gone(sessions: Sessions, *, claim_id: int, thread_id: int) -> None:
    """Telegram no longer knows the thread (deleted by hand): the next event re-creates it."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(ClaimTopic)
            .where(ClaimTopic.claim_id == claim_id, ClaimTopic.thread_id == thread_id)
            .values(thread_id=None, name=None, icon=None, closed=False)
        )


async def _group_is(session: AsyncSession, *, chat_id: int, forum: bool, reason: str | None = None) -> bool:
    """Record what the group allows; True when that changed (or was unknown)."""
    before = await session.get(StaffGroup, chat_id)
    changed = before is None or before.forum != forum
    await session.execute(
        insert(StaffGroup)
        .values(chat_id=chat_id, forum=forum, reason=reason, checked_at=utcnow())
        .on_conflict_do_update(
            index_elements=[StaffGroup.chat_id], set_={"forum": forum, "reason": reason, "checked_at": utcnow()}
        )
    )
    return changed


async def group_refused_topics(sessions: Sessions, *, chat_id: int, reason: str) -> None:
    """Telegram refused a topic (not a forum, no right to manage topics): flat posts from now on;
    said once in the log, not at every claim."""
    async with sessions() as session, session.begin():
        if await _group_is(session, chat_id=chat_id, forum=False, reason=reason):
            log.warning(
                "staff group %s: no forum topics (%s); posting flat notifications to the group instead",
                chat_id,
                reason,
            )


_FOLLOWING = text(
    """
    SELECT id, payload FROM outbox_message
    WHERE chat_id = :chat AND id > :id AND status = 'pending'
      AND payload->>'lane' = 'topic' AND payload->>'claim_id' = :claim
    ORDER BY id
    LIMIT 100
    """
)


async def following_texts(sessions: Sessions, message: LeasedMessage) -> list[tuple[int, str]]:
    """The claim's texts queued right after `message` (its copies piling up behind the group's
    limit), up to the claim's next row that is not such a text: they go in one post with it. The
    staff chat's rows after the head wait for it, so nothing else takes them meanwhile."""
    first = str(message.payload.get("text") or "")
    size = len(first)
    taken: list[tuple[int, str]] = []
    async with sessions() as session:
        rows = (
            await session.execute(
                _FOLLOWING, {"chat": message.chat_id, "id": message.id, "claim": str(message.payload["claim_id"])}
            )
        ).all()
    for row in rows:
        payload = row.payload or {}
        if payload.get("op") != "copy" or not payload.get("combinable"):
            break
        body = str(payload.get("text") or "")
        size += len(body) + 2
        if size > TEXT_LIMIT - 100:
            break
        taken.append((row.id, body))
    return taken


def combined_text(texts: list[str]) -> str:
    return "\n\n".join(esc(t) for t in texts)


async def mark_combined(sessions: Sessions, *, ids: list[int], into: int, tg_message_id: int | None) -> None:
    """The rows whose texts went out in message `into`'s post are done too."""
    if not ids:
        return
    async with sessions() as session, session.begin():
        await session.execute(
            text(
                """
                UPDATE outbox_message
                SET status = 'sent', sent_at = clock_timestamp(), tg_message_id = :mid,
                    last_error = 'combined into outbox message ' || :into
                WHERE id = ANY(:ids) AND status = 'pending'
                """
            ),
            {"ids": ids, "into": str(into), "mid": tg_message_id},
        )


async def staff_group_flat(sessions: Sessions, *, chat_id: int) -> bool:
    async with sessions() as session:
        forum = await session.scalar(select(StaffGroup.forum).where(StaffGroup.chat_id == chat_id))
    return forum is False
