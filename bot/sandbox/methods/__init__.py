"""The Bot API methods the emulator implements, one module per family.

To add a method: write ``async def the_method(call: Call) -> <result JSON>`` in the family it
belongs to (or a new module here), raise :class:`~bot.sandbox.errors.ApiError` with Telegram's
exact description for each refusal, and list it in that module's ``METHODS`` under its Bot API
name. :data:`METHODS` below gathers every family's.
"""

from __future__ import annotations

from bot.sandbox.calls import Handler
from bot.sandbox.methods import bot_info, chats, editing, files, forum, messages, updates

FAMILIES = (bot_info, updates, messages, editing, files, chats, forum)

METHODS: dict[str, Handler] = {name: fn for family in FAMILIES for name, fn in family.METHODS.items()}
