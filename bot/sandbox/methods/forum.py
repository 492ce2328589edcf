"""Forum topics of supergroups: create, edit, close, reopen and delete them; the icons they take.

The checks and their texts are Telegram's: TDLib's ForumTopicManager for the chat and the rights
(the Bot API server lower-cases its first letter), Telegram's own error names for the topic
itself (TOPIC_ID_INVALID, TOPIC_NOT_MODIFIED). Creating needs ``can_manage_topics``; editing,
closing and reopening need it too unless the bot created the topic; deleting needs
``can_delete_messages``. Every change posts a service message into the topic, which the bot gets
as an update too (forum_topic_created, _edited, _closed, _reopened); a deletion posts nothing.
"""

from __future__ import annotations

from bot.sandbox.calls import Call, Handler
from bot.sandbox.chats import TOPIC_COLORS, TOPIC_ICONS, GroupChat, Topic
from bot.sandbox.errors import bad
from bot.sandbox.outgoing import find_chat, not_a_member
from bot.sandbox.protocol import JSON
from bot.sandbox.world import BotWorld

NAME_LIMIT = 128


def _forum(call: Call) -> GroupChat:
    chat = find_chat(call)
    if not isinstance(chat, GroupChat) or not chat.is_forum:
        raise bad("the chat is not a forum")
    if (refusal := not_a_member(call, chat)) is not None:
        raise refusal
    return chat


def _topic(call: Call, chat: GroupChat) -> Topic:
    thread = call.int("message_thread_id")
    if thread is None or thread <= 0:
        raise bad("invalid forum topic identifier specified")
    topic = chat.topics.get(thread)
    if topic is None:
        raise bad("TOPIC_ID_INVALID")
    return topic


def _name(raw: object) -> str:
    """A topic name is cleaned as a chat title: blanks collapsed, cut to 128 characters."""
    return " ".join(str(raw or "").split())[:NAME_LIMIT]


def _may_manage(call: Call, chat: GroupChat, topic: Topic) -> bool:
    me = chat.member(call.world.bot_id)
    return topic.created_by == call.world.bot_id or (me is not None and me.can("can_manage_topics"))


async def create_forum_topic(call: Call) -> JSON:
    chat = _forum(call)
    world = call.world
    if not chat.may_create_topics(world.bot_id):
        raise bad("not enough rights to create a topic")
    name = _name(call.params.get("name"))
    if not name:
        raise bad("title must be non-empty")
    color = call.int("icon_color", TOPIC_COLORS[0])
    assert color is not None
    if not 0 <= color <= 0xFFFFFF:
        raise bad("invalid icon color specified")
    icon = str(call.params.get("icon_custom_emoji_id") or "") or None
    return world.open_topic(chat, world.bot_user, name, color, icon).as_forum_topic()


async def edit_forum_topic(call: Call) -> bool:
    """A new name and/or icon; an empty or missing name keeps the old one, an empty icon removes it."""
    chat = _forum(call)
    topic = _topic(call, chat)
    if not _may_manage(call, chat, topic):
        raise bad("not enough rights to edit the topic")
    name = _name(call.params.get("name")) or None
    raw_icon = call.params.get("icon_custom_emoji_id")
    icon = None if raw_icon is None else str(raw_icon)
    if name is None and icon is None:
        return True  # nothing to change: TDLib answers without asking Telegram
    if (name is None or name == topic.name) and (icon is None or (icon or None) == topic.icon_custom_emoji_id):
        raise bad("TOPIC_NOT_MODIFIED")
    call.world.edit_topic(
        chat,
        topic,
        call.world.bot_user,
        name=name if name != topic.name else None,
        icon=icon if (icon or None) != topic.icon_custom_emoji_id else None,
    )
    return True


async def _set_closed(call: Call, closed: bool) -> bool:
    chat = _forum(call)
    topic = _topic(call, chat)
    if not _may_manage(call, chat, topic):
        raise bad("not enough rights to close or open the topic")
    if topic.closed == closed:
        raise bad("TOPIC_NOT_MODIFIED")
    call.world.set_topic_closed(chat, topic, call.world.bot_user, closed)
    return True


async def close_forum_topic(call: Call) -> bool:
    return await _set_closed(call, True)


async def reopen_forum_topic(call: Call) -> bool:
    return await _set_closed(call, False)


async def delete_forum_topic(call: Call) -> bool:
    chat = _forum(call)
    topic = _topic(call, chat)
    me = chat.member(call.world.bot_id)
    if me is None or not me.can("can_delete_messages"):
        raise bad("not enough rights to delete the topic")
    call.world.delete_topic(chat, topic)
    return True


def icon_stickers(world: BotWorld) -> list[JSON]:
    """The topic icons as custom emoji stickers (real files of this bot, so getFile works)."""
    if not world.topic_icon_stickers:
        for emoji_id, emoji in TOPIC_ICONS.items():
            f = world.files.add(f"topic icon {emoji}".encode(), "sticker")
            world.topic_icon_stickers.append(
                {
                    "file_id": f.file_id,
                    "file_unique_id": f.file_unique_id,
                    "file_size": f.size,
                    "type": "custom_emoji",
                    "width": 100,
                    "height": 100,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": emoji,
                    "custom_emoji_id": emoji_id,
                }
            )
    return list(world.topic_icon_stickers)


async def get_forum_topic_icon_stickers(call: Call) -> list[JSON]:
    return icon_stickers(call.world)


METHODS: dict[str, Handler] = {
    "createForumTopic": create_forum_topic,
    "editForumTopic": edit_forum_topic,
    "closeForumTopic": close_forum_topic,
    "reopenForumTopic": reopen_forum_topic,
    "deleteForumTopic": delete_forum_topic,
    "getForumTopicIconStickers": get_forum_topic_icon_stickers,
}
