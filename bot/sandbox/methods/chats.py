"""Chats and their members: getChat."""

from __future__ import annotations

from bot.sandbox.calls import Call, Handler
from bot.sandbox.outgoing import find_chat
from bot.sandbox.protocol import JSON


async def get_chat(call: Call) -> JSON:
    chat = find_chat(call)
    return {
        **chat.user.as_chat(),
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
        },
    }


METHODS: dict[str, Handler] = {"getChat": get_chat}
