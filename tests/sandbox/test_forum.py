"""Forum supergroups: topics, the bot's rights there, messages in topics, copies from a customer's
chat into a topic, and Telegram's refusals with its exact texts; spoken by unmodified aiogram."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import (
    BufferedInputFile,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
)

from bot.sandbox import BotApiEmulator, FloodLimits

STAFF = -1001234567890


async def test_topic_lifecycle_and_messages_in_it(emu: BotApiEmulator, bot: Bot) -> None:
    staff = emu.supergroup(STAFF, "Staff")
    chat = await bot.get_chat(STAFF)
    assert (chat.type, chat.title, chat.is_forum) == ("supergroup", "Staff", True)
    me = await bot.get_me()
    assert me.can_join_groups
    rights = await bot.get_chat_member(STAFF, me.id)
    assert isinstance(rights, ChatMemberAdministrator) and rights.can_manage_topics
    (added,) = await bot.get_updates()  # the owner added the bot as an administrator
    assert added.my_chat_member is not None and added.my_chat_member.new_chat_member.status == "administrator"

    topic = await bot.create_forum_topic(STAFF, "  2026-000001 · new ·\nAnna  ")
    assert topic.name == "2026-000001 · new · Anna" and topic.icon_color == 0x6FB9F0
    assert [t.name for t in staff.topics] == [topic.name]
    assert staff.topics[0].thread_id == topic.message_thread_id
    # The bot gets the service message of its own call, as from Telegram's Bot API server.
    (created,) = await bot.get_updates(offset=added.update_id + 1)
    service = created.message
    assert service is not None and service.forum_topic_created is not None
    assert service.forum_topic_created.name == topic.name
    assert (service.message_id, service.message_thread_id, service.is_topic_message) == (
        topic.message_thread_id,
        topic.message_thread_id,
        True,
    )
    assert service.from_user is not None and service.from_user.id == me.id

    kb = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="take:1")]])
    card = await bot.send_message(
        STAFF, "<b>Claim</b> 2026-000001", message_thread_id=topic.message_thread_id, parse_mode="HTML", reply_markup=kb
    )
    assert card.message_thread_id == topic.message_thread_id and card.is_topic_message
    # In a topic, a message that answers nothing else replies to the topic's creation message.
    assert card.reply_to_message is not None and card.reply_to_message.forum_topic_created is not None
    assert card.chat.type == "supergroup" and card.chat.is_forum
    photo = await bot.send_photo(
        STAFF,
        BufferedInputFile(b"\xff\xd8jpeg", "a.jpg"),
        message_thread_id=topic.message_thread_id,
        caption="attachment",
    )
    assert photo.message_thread_id == topic.message_thread_id
    general = await bot.send_message(STAFF, "to the General topic")
    assert general.message_thread_id is None and not general.is_topic_message
    assert [m.content for m in staff.sent(topic)] == ["Claim 2026-000001", "attachment"]

    icons = await bot.get_forum_topic_icon_stickers()
    assert icons and all(s.type == "custom_emoji" and s.custom_emoji_id for s in icons)
    done = icons[3].custom_emoji_id
    assert await bot.edit_forum_topic(
        STAFF, topic.message_thread_id, name="2026-000001 · resolved", icon_custom_emoji_id=done
    )
    assert staff.topic(topic.message_thread_id).name == "2026-000001 · resolved"
    assert staff.topic(topic.message_thread_id).icon_custom_emoji_id == done
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.edit_forum_topic(STAFF, topic.message_thread_id, name="2026-000001 · resolved")
    assert await bot.close_forum_topic(STAFF, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="Bad Request: TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(STAFF, topic.message_thread_id)
    assert staff.topic(topic.message_thread_id).closed
    assert await bot.reopen_forum_topic(STAFF, topic.message_thread_id)
    kinds = [
        next(k for k in ("forum_topic_edited", "forum_topic_closed", "forum_topic_reopened") if k in m)
        for m in staff.messages(topic)
        if any(k in m for k in ("forum_topic_edited", "forum_topic_closed", "forum_topic_reopened"))
    ]
    assert kinds == ["forum_topic_edited", "forum_topic_closed", "forum_topic_reopened"]
    updates = await bot.get_updates(offset=created.update_id + 1)
    edited = [u.message.forum_topic_edited for u in updates if u.message and u.message.forum_topic_edited]
    assert [(e.name, e.icon_custom_emoji_id) for e in edited] == [("2026-000001 · resolved", done)]

    assert await bot.delete_forum_topic(STAFF, topic.message_thread_id)
    assert staff.topics == [] and staff.messages(topic) == []
    with pytest.raises(TelegramBadRequest, match=r"^Telegram server says - Bad Request: message thread not found$"):
        await bot.send_message(STAFF, "lost?", message_thread_id=topic.message_thread_id)


async def test_refusals_have_telegram_texts(emu: BotApiEmulator, bot: Bot) -> None:
    staff = emu.supergroup(STAFF, "Staff", bot_rights={"can_manage_topics": False})
    plain = emu.supergroup(-1009, "Not a forum", forum=False)
    owner = staff.member(staff.owner["id"])
    human_topic = owner.create_topic("opened by a person")
    cases = [
        (bot.create_forum_topic(-100999, "x"), "Bad Request: chat not found"),
        (bot.create_forum_topic(plain.id, "x"), "Bad Request: the chat is not a forum"),
        (bot.create_forum_topic(STAFF, "x"), "Bad Request: not enough rights to create a topic"),
        (
            bot.edit_forum_topic(STAFF, human_topic.thread_id, name="y"),
            "Bad Request: not enough rights to edit the topic",
        ),
        (
            bot.close_forum_topic(STAFF, human_topic.thread_id),
            "Bad Request: not enough rights to close or open the topic",
        ),
        (bot.delete_forum_topic(STAFF, human_topic.thread_id), "Bad Request: not enough rights to delete the topic"),
        (bot.close_forum_topic(STAFF, 424242), "Bad Request: TOPIC_ID_INVALID"),
        (bot.send_message(STAFF, "x", message_thread_id=424242), "Bad Request: message thread not found"),
        (bot.send_message(plain.id, "x", message_thread_id=424242), "Bad Request: message thread not found"),
        (bot.send_message(-100999, "x"), "Bad Request: chat not found"),
    ]
    for request, text in cases:
        with pytest.raises(TelegramBadRequest) as err:
            await request
        assert err.value.message == text
    staff.set_bot("administrator", can_manage_topics=True)
    with pytest.raises(TelegramBadRequest, match="title must be non-empty"):
        await bot.create_forum_topic(STAFF, "   ")

    # A closed topic takes only its creator's and topic managers' messages.
    owner.close_topic(human_topic)
    staff.set_bot("administrator", can_manage_topics=False)
    with pytest.raises(TelegramBadRequest) as closed:
        await bot.send_message(STAFF, "x", message_thread_id=human_topic.thread_id)
    assert closed.value.message == "Bad Request: TOPIC_CLOSED"
    staff.set_bot("administrator", can_manage_topics=True)
    assert (await bot.send_message(STAFF, "managers may", message_thread_id=human_topic.thread_id)).text
    # The bot's own topic stays its own to edit and close after it lost the right.
    own = await bot.create_forum_topic(STAFF, "mine")
    staff.set_bot("administrator", can_manage_topics=False)
    assert await bot.edit_forum_topic(STAFF, own.message_thread_id, name="still mine")
    assert await bot.close_forum_topic(STAFF, own.message_thread_id)
    assert (await bot.send_message(STAFF, "creator may", message_thread_id=own.message_thread_id)).text

    staff.set_bot("member")
    member = await bot.get_chat_member(STAFF, (await bot.get_me()).id)
    assert isinstance(member, ChatMemberMember)
    with pytest.raises(TelegramBadRequest, match="not enough rights to create a topic"):
        await bot.create_forum_topic(STAFF, "x")
    staff.set_bot("left")
    with pytest.raises(TelegramForbiddenError) as gone:
        await bot.send_message(STAFF, "x")
    assert gone.value.message == "Forbidden: bot is not a member of the supergroup chat"
    staff.set_bot("kicked")
    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the supergroup chat"):
        await bot.create_forum_topic(STAFF, "x")
    statuses = [u.my_chat_member.new_chat_member.status for u in await bot.get_updates() if u.my_chat_member]
    assert statuses[-3:] == ["member", "left", "kicked"]


async def test_members_and_administrators(emu: BotApiEmulator, bot: Bot) -> None:
    staff = emu.supergroup(STAFF, "Staff")
    staff.member(501, "Anna", admin=True, can_manage_topics=True)
    staff.member(502, "Boris")
    admins = await bot.get_chat_administrators(STAFF)
    by_id = {a.user.id: a for a in admins}
    me = await bot.get_me()
    assert set(by_id) == {staff.owner["id"], 501, me.id}  # this bot is listed, plain members are not
    assert isinstance(by_id[staff.owner["id"]], ChatMemberOwner)
    assert isinstance(by_id[501], ChatMemberAdministrator) and by_id[501].can_manage_topics
    assert not by_id[501].can_delete_messages
    assert isinstance(await bot.get_chat_member(STAFF, 502), ChatMemberMember)
    assert await bot.get_chat_member_count(STAFF) == 4
    emu.user(77, "Customer")
    assert (await bot.get_chat(77)).type == "private"
    assert (await bot.get_chat_member(STAFF, 77)).status == "left"
    with pytest.raises(TelegramBadRequest, match="user not found"):
        await bot.get_chat_member(STAFF, 99999)
    with pytest.raises(TelegramBadRequest, match="there are no administrators in the private chat"):
        await bot.get_chat_administrators(77)


async def test_copies_from_a_customer_chat_into_a_topic(emu: BotApiEmulator, bot: Bot) -> None:
    """Everything a customer sends goes into their claim's topic as copies, files and order kept."""
    staff = emu.supergroup(STAFF, "Staff")
    customer = emu.user(7001, "Anna")
    topic = await bot.create_forum_topic(STAFF, "2026-000001")
    text = await customer.send_text("The kettle leaks")
    photo = await customer.send_photo(caption="the leak")
    album = await customer.send_album([("photo", None), ("document", b"%PDF-1.4 receipt", "receipt.pdf")], "papers")
    await customer.send_location(55.75, 37.61)  # not asked for: copyMessages skips nothing it can copy

    one = await bot.copy_message(STAFF, 7001, text["message_id"], message_thread_id=topic.message_thread_id)
    two = await bot.copy_message(STAFF, 7001, photo["message_id"], message_thread_id=topic.message_thread_id)
    many = await bot.copy_messages(
        STAFF, 7001, [m["message_id"] for m in album], message_thread_id=topic.message_thread_id
    )
    assert len(many) == 2
    copies = staff.sent(topic)
    assert [c.message_id for c in copies] == [one.message_id, two.message_id, *(m.message_id for m in many)]
    assert [c.kind for c in copies] == ["text", "photo", "photo", "document"]
    assert [c.content for c in copies] == ["The kettle leaks", "the leak", "papers", None]
    assert all(c.message_thread_id == topic.message_thread_id for c in copies)
    assert copies[1].raw["photo"][-1]["file_id"] == photo["photo"][-1]["file_id"]  # no upload again
    assert copies[3].file_name == "receipt.pdf"
    # An album copied as a whole stays an album, under a new media_group_id.
    assert copies[2].media_group_id == copies[3].media_group_id != album[0]["media_group_id"]
    assert copies[2].media_group_id is not None
    # A service message cannot be copied; a message that is not there is not found.
    service_id = staff.messages(topic)[0]["message_id"]
    with pytest.raises(TelegramBadRequest, match="message can't be copied"):
        await bot.copy_message(7001, STAFF, service_id)
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(STAFF, 7001, 1, message_thread_id=topic.message_thread_id)


async def test_one_group_takes_twenty_messages_a_minute(emu: BotApiEmulator, bot: Bot) -> None:
    emu.supergroup(STAFF, "Staff")
    customer = emu.user(7002, "Oleg")
    emu.flood.limits = FloodLimits(global_limit=1000, chat_limit=1000)  # only the group's limit bites
    emu.flood.enabled = True
    emu.flood.reset()
    topic = await bot.create_forum_topic(STAFF, "busy")  # creating a topic is no message
    for n in range(20):
        await bot.send_message(STAFF, f"{n}", message_thread_id=topic.message_thread_id)
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(STAFF, "21st", message_thread_id=topic.message_thread_id)
    assert err.value.retry_after == 3  # one message every three seconds from now on
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(STAFF, "another topic, same group")
    for n in range(25):  # a private chat has no such limit
        await bot.send_message(7002, f"{n}")
    assert len(customer.messages) == 25 and emu.stats["flood_429"] == 2


async def test_albums_replies_and_deletions_in_a_forum(emu: BotApiEmulator, bot: Bot) -> None:
    staff = emu.supergroup(STAFF, "Staff", bot_rights={"can_manage_topics": True})
    anna = staff.member(501, "Anna")
    topic = await bot.create_forum_topic(STAFF, "2026-000002")
    album = await bot.send_media_group(
        STAFF,
        [
            InputMediaPhoto(media=BufferedInputFile(b"a", "a.jpg"), caption="two photos"),
            InputMediaPhoto(media=BufferedInputFile(b"b", "b.jpg")),
        ],
        message_thread_id=topic.message_thread_id,
    )
    assert {m.message_thread_id for m in album} == {topic.message_thread_id}
    # A reply goes to the topic of the message it answers, without naming the topic.
    answer = await bot.send_message(
        STAFF, "about the first photo", reply_parameters={"message_id": album[0].message_id}
    )
    assert answer.message_thread_id == topic.message_thread_id and answer.is_topic_message
    assert answer.reply_to_message is not None and answer.reply_to_message.message_id == album[0].message_id
    # A person's reply in the General topic carries the thread it starts, but is no topic message.
    note = await bot.send_message(STAFF, "a note in General")
    reply = await anna.send_text("seen", reply_to=note.message_id)
    assert reply["message_thread_id"] == note.message_id and "is_topic_message" not in reply
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(
            STAFF, "x", message_thread_id=topic.message_thread_id, reply_parameters={"message_id": note.message_id}
        )
    # The bot deletes its own messages; others' only with can_delete_messages; never a topic's first.
    assert await bot.delete_message(STAFF, answer.message_id)
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(STAFF, reply["message_id"])
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await bot.delete_message(STAFF, topic.message_thread_id)
    staff.set_bot("administrator", can_manage_topics=True, can_delete_messages=True)
    assert await bot.delete_message(STAFF, reply["message_id"])
    assert [m["message_id"] for m in staff.messages(general=True)] == [note.message_id]
