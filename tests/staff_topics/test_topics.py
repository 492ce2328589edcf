"""Issue 14, end to end through the emulator: a topic per claim in the staff group, mirrored both
ways, worked from Telegram by linked staff only, following every status change, re-created when
deleted, a redelivered update applied once, and flat posts without forum rights."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from bot.sandbox.chats import SentMessage
from bot.sandbox.groups import GroupDriver
from shared.actors import Actor
from shared.claims.desk import add_staff_interaction
from shared.claims.models import Claim
from shared.claims.service import transition
from shared.claims.workflow import ClaimStatus
from shared.enums import Direction, InteractionChannel
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.outbox.models import OutboxMessage
from shared.staff.models import StaffUser
from shared.topics.models import ClaimTopic, StaffGroup
from tests.bot.conftest import eventually
from tests.factories import make_catalogs
from tests.staff_topics.conftest import Desk, filed_claim, linked_staff, running_desk


def staff_answer(number: str, text: str) -> str:
    """What the (English-speaking) customer reads of a staff answer: it names its claim (issue 15)."""
    return get_translator("en")("delivery.staff_reply", number=number, text=text).replace("<b>", "").replace("</b>", "")


T = get_translator("ru")  # the staff group speaks DEFAULT_LANGUAGE


@pytest.fixture
def group(emu: BotApiEmulator, staff_chat: int) -> GroupDriver:
    return emu.supergroup(staff_chat, "Claims desk", bot_rights={"can_manage_topics": True})


async def topic_of(desk: Desk, claim: Claim) -> ClaimTopic:
    topic = await eventually(
        desk.db, lambda s: s.get(ClaimTopic, claim.id, populate_existing=True), lambda t: t is not None and t.thread_id
    )
    assert topic is not None and topic.thread_id is not None
    return topic


async def posts_in(desk: Desk, thread_id: int, n: int, timeout: float = 8.0) -> list[SentMessage]:
    await desk.emu.world.wait_for(lambda: len(desk.group.sent(thread_id)) >= n, timeout)
    return desk.group.sent(thread_id)


async def interactions(db: async_sessionmaker[AsyncSession], claim_id: int) -> list[Interaction]:
    async with db() as session:
        rows = await session.scalars(
            select(Interaction).where(Interaction.claim_id == claim_id).order_by(Interaction.id)
        )
        return list(rows.all())


async def test_a_filed_claim_opens_a_topic_with_its_card(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    async with running_desk(emu, db, database_url, group) as desk:
        _, claim = await filed_claim(db, emu, 8101, name="Anna")
        topic = await topic_of(desk, claim)
        card, description = await posts_in(desk, topic.thread_id, 2)
    live = group.topic(topic.thread_id)
    assert live.name == f"{claim.number} · {T('status.new')} · Anna"
    assert live.icon_custom_emoji_id == "5379748062124056162"
    assert claim.number in (card.content or "") and "ORD-77" in (card.content or "")
    labels = [b["text"] for b in card.buttons]
    assert labels == [T(f"topics.button.{k}") for k in ("take", "reason", "department", "resolve", "open")]
    assert card.button(T("topics.button.open"))["url"].endswith(f"/claims/{claim.id}")
    # The customer's own message follows the card, copied from their chat.
    assert (description.method, description.content) == ("copyMessage", "The kettle arrived broken")


async def test_linked_staff_takes_answers_and_notes_from_the_topic(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    staff = await linked_staff(db, 5001, name="Boris")
    async with running_desk(emu, db, database_url, group) as desk:
        user, claim = await filed_claim(db, emu, 8102)
        topic = await topic_of(desk, claim)
        card, _ = await posts_in(desk, topic.thread_id, 2)
        boris = group.member(5001, "Boris").in_topic(topic.thread_id)
        await boris.press(card, text=T("topics.button.take"))
        taken = await eventually(
            db, lambda s: s.get(Claim, claim.id, populate_existing=True), lambda c: c.responsible_id
        )
        assert taken is not None and taken.responsible_id == staff.id and taken.status == ClaimStatus.IN_PROGRESS
        await boris.send_text("We will replace it tomorrow")
        await boris.send_text("// the warehouse has two in stock")
        answer = staff_answer(claim.number, "We will replace it tomorrow")
        await emu.world.wait_for(lambda: any(m.content == answer for m in user.messages), 8)
        # The topic's name follows the status (taken: in progress).
        await emu.world.wait_for(lambda: T("status.in_progress") in group.topic(topic.thread_id).name, 8)
        rows = await eventually(db, lambda s: _staff_rows(s, claim.id), lambda r: len(r) == 3)
    taken_news, reply, note = rows
    assert taken_news.text == get_translator("en")("delivery.taken", number=claim.number).replace("<b>", "").replace(
        "</b>", ""
    )
    assert (reply.direction, reply.channel, reply.author_id, reply.text) == (
        Direction.OUTBOUND,
        InteractionChannel.TELEGRAM,
        staff.id,
        "We will replace it tomorrow",
    )
    assert (note.direction, note.channel, note.author_id, note.text) == (
        Direction.INTERNAL,
        InteractionChannel.NOTE,
        staff.id,
        "the warehouse has two in stock",
    )
    assert all("warehouse" not in (m.content or "") for m in user.messages)  # the note stays internal


async def _staff_rows(session: AsyncSession, claim_id: int) -> list[Interaction]:
    rows = await session.scalars(
        select(Interaction)
        .where(Interaction.claim_id == claim_id, Interaction.author_id.is_not(None))
        .order_by(Interaction.id)
    )
    return list(rows.all())


async def test_a_web_reply_appears_in_the_topic_and_customers_messages_are_copied_in_order(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    async with db.begin() as session:
        web_staff = StaffUser(login="web-vera", full_name="Vera", password_hash="x", role="operator")
        session.add(web_staff)
    async with running_desk(emu, db, database_url, group) as desk:
        user, claim = await filed_claim(db, emu, 8103)
        topic = await topic_of(desk, claim)
        await posts_in(desk, topic.thread_id, 2)
        async with db.begin() as session:
            await add_staff_interaction(
                session,
                claim_id=claim.id,
                actor=Actor.staff(web_staff.id),
                channel=InteractionChannel.TELEGRAM,
                text="Please send a photo <of the box>",
            )
        posts = await posts_in(desk, topic.thread_id, 3)
        assert "Vera" in (posts[2].content or "") and "Please send a photo <of the box>" in (posts[2].content or "")
        assert T("topics.mirror.web_reply", who="", text="").split("<b>")[0].strip() in (posts[2].content or "")
        await emu.world.wait_for(lambda: any("Please send a photo" in (m.content or "") for m in user.messages), 8)
        await user.send_photo(caption="the box")
        await user.send_text("and one more thing")
        posts = await posts_in(desk, topic.thread_id, 5)
    assert [p.kind for p in posts[3:5]] == ["photo", "text"]
    assert [p.content for p in posts[3:5]] == ["the box", "and one more thing"]
    assert all(p.method == "copyMessage" for p in posts[3:5])


async def test_resolving_from_the_topic_sends_the_decision_and_renames_the_topic(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    await linked_staff(db, 5002, name="Gleb")
    async with running_desk(emu, db, database_url, group) as desk:
        user, claim = await filed_claim(db, emu, 8104)
        topic = await topic_of(desk, claim)
        card, _ = await posts_in(desk, topic.thread_id, 2)
        gleb = group.member(5002, "Gleb").in_topic(topic.thread_id)
        await gleb.press(card, text=T("topics.button.take"))
        await gleb.press(card, text=T("topics.button.resolve"))
        ask = (await posts_in(desk, topic.thread_id, 4))[-1]  # "taken", then the question
        assert [b["text"] for b in ask.buttons] == [
            T(f"result.{r}") for r in ("satisfied", "partially_satisfied", "rejected")
        ]
        await gleb.press(ask, text=T("result.satisfied"))
        await posts_in(desk, topic.thread_id, 5)
        await gleb.send_text("A new kettle goes out today")
        preview = (await posts_in(desk, topic.thread_id, 6))[-1]
        assert "A new kettle goes out today" in (preview.content or "")
        assert claim.status == ClaimStatus.NEW  # nothing sent before the confirmation
        await gleb.press(preview, text=T("topics.button.confirm"))
        await emu.world.wait_for(
            lambda: any("A new kettle goes out today" in (m.content or "") for m in user.messages), 8
        )
        await emu.world.wait_for(lambda: T("status.resolved") in group.topic(topic.thread_id).name, 8)
        async with db() as session:
            resolved = await session.get_one(Claim, claim.id)
    assert (resolved.status, resolved.result, resolved.resolution) == (
        ClaimStatus.RESOLVED,
        "satisfied",
        "A new kettle goes out today",
    )
    assert group.topic(topic.thread_id).icon_custom_emoji_id == "5237699328843200968"


async def test_the_workflows_refusals_hold_in_the_topic(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    """Resolving a claim nobody took is refused by the workflow (new -> resolved is not a
    transition), in the topic as in the web UI; nothing reaches the customer."""
    await linked_staff(db, 5003, name="Dina")
    async with running_desk(emu, db, database_url, group) as desk:
        user, claim = await filed_claim(db, emu, 8105)
        topic = await topic_of(desk, claim)
        card, _ = await posts_in(desk, topic.thread_id, 2)
        dina = group.member(5003, "Dina").in_topic(topic.thread_id)
        await dina.press(card, text=T("topics.button.resolve"))
        ask = (await posts_in(desk, topic.thread_id, 3))[-1]
        await dina.press(ask, text=T("result.rejected"))
        await posts_in(desk, topic.thread_id, 4)
        await dina.send_text("No.")
        preview = (await posts_in(desk, topic.thread_id, 5))[-1]
        await dina.press(preview, text=T("topics.button.confirm"))
        refusal = (await posts_in(desk, topic.thread_id, 6))[-1]
        async with db() as session:
            kept = await session.get_one(Claim, claim.id)
    assert T("topics.refused", reason="").strip() in (refusal.content or "")
    assert kept.status == ClaimStatus.NEW and kept.resolution is None
    assert user.messages == []


async def test_unlinked_and_deactivated_staff_are_ignored(
    emu: BotApiEmulator,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
    group: GroupDriver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gone = await linked_staff(db, 5004, name="Egor")
    async with db.begin() as session:
        (await session.get_one(StaffUser, gone.id)).active = False
    caplog.set_level(logging.INFO, logger="claimdesk.topics")
    async with running_desk(emu, db, database_url, group) as desk:
        user, claim = await filed_claim(db, emu, 8106)
        topic = await topic_of(desk, claim)
        card, _ = await posts_in(desk, topic.thread_id, 2)
        stranger = group.member(6001, "Stranger").in_topic(topic.thread_id)
        egor = group.member(5004, "Egor").in_topic(topic.thread_id)
        await stranger.send_text("hello customer, I am not staff")
        await egor.send_text("I used to work here")
        pressed = await stranger.press(card, text=T("topics.button.take"))
        await emu.world.wait_for(lambda: any(a.get("callback_query_id") == pressed for a in group.answers), 8)
        await emu.world.wait_for(lambda: not emu.world.updates, 5)
        await user.sleep_until_quiet(0.5)
        async with db() as session:
            kept = await session.get_one(Claim, claim.id)
    assert kept.responsible_id is None and kept.status == ClaimStatus.NEW
    assert [i.direction for i in await interactions(db, claim.id)] == [Direction.INBOUND]
    assert user.messages == []
    ignored = [r.getMessage() for r in caplog.records if "ignored" in r.getMessage()]
    assert any("6001" in m for m in ignored) and any("5004" in m for m in ignored)


async def test_the_topic_follows_every_status_change(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    async with db.begin() as session:
        staff = StaffUser(login="web-ira", full_name="Ira", password_hash="x", role="operator")
        session.add(staff)
    actor = Actor.staff(staff.id)
    async with running_desk(emu, db, database_url, group) as desk:
        _, claim = await filed_claim(db, emu, 8107, name="Kim")
        topic = await topic_of(desk, claim)
        live = lambda: group.topic(topic.thread_id)  # noqa: E731
        steps: list[tuple[ClaimStatus, dict[str, str]]] = [
            (ClaimStatus.IN_PROGRESS, {}),
            (ClaimStatus.RESOLVED, {"result": "rejected", "resolution": "Not a defect"}),
            (ClaimStatus.IN_PROGRESS, {}),
            (ClaimStatus.RESOLVED, {"result": "satisfied", "resolution": "Replaced"}),
            (ClaimStatus.CLOSED, {}),
        ]
        for status, extra in steps:
            async with db.begin() as session:
                await transition(session, claim_id=claim.id, to=status, actor=actor, **extra)  # type: ignore[arg-type]
            want = f"{claim.number} · {T(f'status.{status}')} · Kim"
            closed = status is ClaimStatus.CLOSED
            await emu.world.wait_for(
                lambda want=want, closed=closed: live().name == want and live().closed is closed, 8
            )


async def test_a_topic_deleted_by_hand_is_recreated_on_the_next_event(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    async with running_desk(emu, db, database_url, group) as desk:
        user, claim = await filed_claim(db, emu, 8108, name="Lev")
        topic = await topic_of(desk, claim)
        await posts_in(desk, topic.thread_id, 2)
        owner = group.member(group.owner["id"])
        owner.delete_topic(topic.thread_id)
        assert group.topics == []
        await user.send_text("is anyone there?")
        again = await group.wait_for_topic(lambda t: claim.number in t.name, 8)
        posts = await posts_in(desk, again.thread_id, 2)
        stored = await eventually(
            db, lambda s: s.get(ClaimTopic, claim.id, populate_existing=True), lambda t: t.thread_id == again.thread_id
        )
    assert again.thread_id != topic.thread_id and stored is not None
    assert claim.number in (posts[0].content or "") and posts[0].buttons  # the card again
    assert posts[1].content == "is anyone there?"  # and what the customer wrote, not lost


async def test_a_redelivered_group_update_is_applied_once(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    await linked_staff(db, 5005, name="Mila")
    async with running_desk(emu, db, database_url, group) as desk:
        user, claim = await filed_claim(db, emu, 8109)
        topic = await topic_of(desk, claim)
        await posts_in(desk, topic.thread_id, 2)
        mila = group.member(5005, "Mila").in_topic(topic.thread_id)
        await mila.send_text("Only once")
        update = dict(emu.world.updates[-1])
        answer = staff_answer(claim.number, "Only once")
        await emu.world.wait_for(lambda: any(m.content == answer for m in user.messages), 8)
        emu.world.updates.append(update)  # Telegram delivers it again (same update id)
        emu.world.push_update("message", update["message"])  # and once more under a new id
        await emu.world.wait_for(lambda: not emu.world.updates, 5)
        await user.sleep_until_quiet(0.5)
        async with db() as session:
            sent = await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == user.id))
            to_customer = list(sent.all())
    assert [m.content for m in user.messages] == [answer]
    assert len(to_customer) == 1
    assert len([i for i in await interactions(db, claim.id) if i.author_id]) == 1


async def test_without_forum_rights_the_desk_posts_flat_and_says_why_once(
    emu: BotApiEmulator,
    db: async_sessionmaker[AsyncSession],
    database_url: str,
    staff_chat: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    group = emu.supergroup(staff_chat, "Claims desk", bot_rights={"can_manage_topics": False})
    caplog.set_level(logging.WARNING, logger="claimdesk.topics")
    async with running_desk(emu, db, database_url, group) as desk:
        user, first = await filed_claim(db, emu, 8110, name="Nina")
        await group.wait_for_messages(1, 8)
        _, second = await filed_claim(db, emu, 8111, name="Oleg")
        await user.send_text("still waiting")
        await group.wait_for_messages(1, 8)
        await eventually(
            db,
            lambda s: s.scalar(select(OutboxMessage.id).where(OutboxMessage.status.in_(("pending", "sending")))),
            lambda pending: pending is None,
        )
        async with db() as session:
            state = await session.get_one(StaffGroup, staff_chat)
            stored = await interactions(db, first.id)
        del desk
    assert group.topics == []
    flat = group.sent()
    assert [m.message_thread_id for m in flat] == [None, None]
    assert first.number in (flat[0].content or "") and second.number in (flat[1].content or "")
    assert all("Новая претензия" in (m.content or "") for m in flat)  # today's flat notification
    assert state.forum is False and "not enough rights" in (state.reason or "")
    said = [r for r in caplog.records if "no forum topics" in r.getMessage()]
    assert len(said) == 1
    assert [i.text for i in stored] == ["The kettle arrived broken", "still waiting"]  # nothing lost


async def test_reason_and_department_are_chosen_from_the_topic(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> None:
    await linked_staff(db, 5006, name="Nora")
    async with db.begin() as session:
        department, _, reason = await make_catalogs(session)
    async with running_desk(emu, db, database_url, group) as desk:
        _, claim = await filed_claim(db, emu, 8112)
        topic = await topic_of(desk, claim)
        card, _ = await posts_in(desk, topic.thread_id, 2)
        nora = group.member(5006, "Nora").in_topic(topic.thread_id)
        await nora.press(card, text=T("topics.button.reason"))
        reasons = (await posts_in(desk, topic.thread_id, 3))[-1]
        await nora.press(reasons, text=reason.name)
        await nora.press(card, text=T("topics.button.department"))
        departments = (await posts_in(desk, topic.thread_id, 4))[-1]
        await nora.press(departments, text=department.name)
        done = await eventually(
            db, lambda s: s.get(Claim, claim.id, populate_existing=True), lambda c: c.culprit_department_id is not None
        )
    assert done is not None and (done.reason_id, done.culprit_department_id) == (reason.id, department.id)
