"""What the desk posts in the staff group's topics: outbox rows on the staff chat's lane, written
in the transaction of the change that causes them (like every message the desk sends).

A row names its claim and an `op`; the delivery worker (bot/delivery/topics.py) finds or creates
the topic when it gets to the row, with the help of `shared.topics.lane`:
  open  - the claim is new: create its topic and post its card;
  sync  - the status changed: the topic's name and icon follow, closed follows the claim;
  copy  - a customer's message: copyMessage from their chat (consecutive texts of a claim that
          piled up go as one post, see `lane.following_texts`);
  post  - a text of the desk (a web UI reply, a note, a delivery failure, a preview...).
The rows of the staff chat are sent one at a time in id order (the outbox's rule per chat), so a
topic is always created before anything is posted in it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.claims.models import Claim
from shared.clock import utcnow
from shared.enums import Direction, InteractionChannel
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.notifications.texts import esc
from shared.outbox.models import OutboxMessage
from shared.outbox.service import enqueue
from shared.settings import get_settings
from shared.staff.models import StaffUser
from shared.topics.models import ClaimTopic, StaffGroup

LANE = "topic"  # payload["lane"] of the rows the worker's topic sender delivers
# A group found without forum rights is tried again after this long: granting the right is enough.
RECHECK = timedelta(hours=1)
# A customer's text is combined with the next ones of its claim when it is at most this long.
COMBINABLE = 1000


def staff_chat_id() -> int | None:
    return get_settings().staff_chat_id


async def topics_enabled(session: AsyncSession) -> bool:
    """Whether claims get topics: a staff chat is set and it has not refused topics lately."""
    chat_id = staff_chat_id()
    if chat_id is None:
        return False
    group = await session.get(StaffGroup, chat_id)
    return group is None or group.forum or group.checked_at < utcnow() - RECHECK


async def _topic_of(session: AsyncSession, claim_id: int) -> ClaimTopic | None:
    if staff_chat_id() is None:
        return None  # no staff group: no query on the bot's path for every message
    return await session.get(ClaimTopic, claim_id)


async def _enqueue(session: AsyncSession, chat_id: int, claim_id: int, op: str, **payload: Any) -> OutboxMessage:
    return await enqueue(
        session,
        chat_id=chat_id,
        method=op,
        payload={"lane": LANE, "op": op, "claim_id": claim_id, **payload},
    )


async def open_topic(session: AsyncSession, *, claim: Claim, flat_text: str) -> bool:
    """A new claim gets its topic; False when topics are off (the caller posts `flat_text` itself).
    Should the group refuse topics when the worker tries, it posts `flat_text` instead."""
    chat_id = staff_chat_id()
    if chat_id is None or not await topics_enabled(session):
        return False
    if await _topic_of(session, claim.id) is None:
        session.add(ClaimTopic(claim_id=claim.id, chat_id=chat_id))
        await session.flush()
    await _enqueue(session, chat_id, claim.id, "open", flat_text=flat_text)
    return True


async def sync_topic(session: AsyncSession, *, claim_id: int) -> None:
    """The claim changed (status, responsible): its topic's name, icon and state follow."""
    topic = await _topic_of(session, claim_id)
    if topic is not None:
        await _enqueue(session, topic.chat_id, claim_id, "sync")


async def post_in_topic(
    session: AsyncSession,
    *,
    claim_id: int,
    text: str,
    reply_markup: dict[str, Any] | None = None,
    flat_too: bool = False,
    kind: str | None = None,
) -> OutboxMessage | None:
    """An HTML text of the desk in the claim's topic; None when the claim has no topic.
    `flat_too`: news the staff chat got before topics (a dispute, a low rating, an overdue claim),
    posted flat should the group refuse topics; the rest of a topic's traffic is not."""
    topic = await _topic_of(session, claim_id)
    if topic is None:
        return None
    extra: dict[str, Any] = {"text": text, "parse_mode": "HTML", "flat": flat_too}
    if reply_markup:
        extra["reply_markup"] = reply_markup
    if kind:
        extra["kind"] = kind  # what the message is about, as on every staff chat row (the sweeper's markers)
    return await _enqueue(session, topic.chat_id, claim_id, "post", **extra)


async def mirror_interaction(session: AsyncSession, *, interaction: Interaction) -> None:
    """A new interaction on a claim with a topic, as the topic shows it: what the customer sent is
    copied (attachments included); what staff said elsewhere than the topic is posted, marked
    with where it was said. What was said in the topic itself is there already."""
    if interaction.claim_id is None:
        return
    topic = await _topic_of(session, interaction.claim_id)
    if topic is None:
        return
    if interaction.tg_chat_id is not None and interaction.tg_chat_id == topic.chat_id:
        return  # written in the staff group: the topic shows it already
    if interaction.direction == Direction.INBOUND.value and interaction.tg_message_id is not None:
        files = len(interaction.attachments)
        await _enqueue(
            session,
            topic.chat_id,
            interaction.claim_id,
            "copy",
            from_chat_id=interaction.tg_chat_id,
            message_id=interaction.tg_message_id,
            interaction_id=interaction.id,
            text=interaction.text,
            # A plain text may be combined with the next ones of its claim; a file never is.
            combinable=files == 0 and len(interaction.text) <= COMBINABLE,
        )
        return
    t = get_translator(get_settings().default_language)
    author = await session.get(StaffUser, interaction.author_id) if interaction.author_id else None
    who = esc(author.full_name or author.login) if author else t("topics.someone")
    if interaction.direction == Direction.INBOUND.value:
        key = "topics.mirror.inbound_other"
    elif interaction.channel == InteractionChannel.TELEGRAM.value:
        key = "topics.mirror.web_reply"
    elif interaction.channel == InteractionChannel.NOTE.value:
        key = "topics.mirror.web_note"
    else:
        key = "topics.mirror.web_contact"
    text = t(key, who=who, channel=t(f"topics.channel.{interaction.channel}"), text=esc(interaction.text))
    if interaction.attachments:
        text += "\n" + t("topics.mirror.files", count=len(interaction.attachments))
    await _enqueue(session, topic.chat_id, interaction.claim_id, "post", text=text, parse_mode="HTML")


async def delivery_failed(session: AsyncSession, *, interaction_id: int, reason: str) -> None:
    """A message to the customer could not be delivered: the topic says so."""
    claim_id = await session.scalar(select(Interaction.claim_id).where(Interaction.id == interaction_id))
    if claim_id is None:
        return
    t = get_translator(get_settings().default_language)
    await post_in_topic(session, claim_id=claim_id, text=t("topics.delivery_failed", reason=esc(reason)))
