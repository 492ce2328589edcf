"""Chats and their members: getChat, getChatMember, getChatAdministrators, getChatMemberCount."""

from __future__ import annotations

from bot.sandbox.calls import Call, Handler
from bot.sandbox.chats import GroupChat, Member, PrivateChat
from bot.sandbox.errors import bad
from bot.sandbox.outgoing import find_chat, not_a_member
from bot.sandbox.protocol import JSON

_NO_GIFTS = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


async def get_chat(call: Call) -> JSON:
    chat = find_chat(call)
    info: JSON = {**chat.as_chat(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": _NO_GIFTS}
    if isinstance(chat, GroupChat):
        info["permissions"] = dict(chat.permissions)
    return info


def _members_chat(call: Call) -> GroupChat | PrivateChat:
    """The chat whose members are asked about; in a group the bot must still be a member."""
    chat = find_chat(call)
    assert isinstance(chat, GroupChat | PrivateChat)
    if isinstance(chat, GroupChat) and (refusal := not_a_member(call, chat)) is not None:
        raise refusal
    return chat


async def get_chat_member(call: Call) -> JSON:
    chat = _members_chat(call)
    user_id = call.int("user_id")
    if user_id is None:
        raise bad("user_id is empty") if call.params.get("user_id") in (None, "") else bad("invalid user_id specified")
    world = call.world
    if isinstance(chat, PrivateChat):
        if user_id == chat.id:
            return Member(chat.user.as_user()).as_chat_member()
        if user_id == world.bot_id:
            return Member(world.bot_user).as_chat_member()
        raise bad("user not found")
    member = chat.member(user_id)
    if member is not None:
        return member.as_chat_member()
    known = world.chats.get(user_id)
    if isinstance(known, PrivateChat):  # someone the bot knows, not in this group
        return Member(known.user.as_user(), "left").as_chat_member()
    raise bad("user not found")


async def get_chat_administrators(call: Call) -> list[JSON]:
    """The creator and administrators; bots other than this one only with ``return_bots``."""
    chat = _members_chat(call)
    if isinstance(chat, PrivateChat):
        raise bad("there are no administrators in the private chat")
    return_bots = call.bool("return_bots")
    return [
        m.as_chat_member()
        for m in chat.members.values()
        if m.is_admin and (not m.user.get("is_bot") or return_bots or m.user["id"] == call.world.bot_id)
    ]


async def get_chat_member_count(call: Call) -> int:
    chat = _members_chat(call)
    if isinstance(chat, PrivateChat):
        return 2
    return sum(1 for m in chat.members.values() if m.present)


METHODS: dict[str, Handler] = {
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count,
}
