"""The bot itself: getMe, its command menus, descriptions and session methods."""

from __future__ import annotations

import json
import re

from bot.sandbox.calls import Call, Handler
from bot.sandbox.errors import bad
from bot.sandbox.protocol import JSON


def scope_key(scope: object, language_code: object) -> tuple[str, str]:
    """Command lists are kept per (scope, language), as Telegram keeps them."""
    key = json.dumps(scope, sort_keys=True) if isinstance(scope, dict) else json.dumps({"type": "default"})
    return key, str(language_code or "")


def _key(call: Call) -> tuple[str, str]:
    return scope_key(call.params.get("scope"), call.params.get("language_code"))


async def get_me(call: Call) -> JSON:
    return call.world.bot_user


async def always_true(call: Call) -> bool:
    """Methods whose effect the emulator does not model (logOut, descriptions, the menu button)."""
    return True


async def set_my_commands(call: Call) -> bool:
    commands = call.params.get("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad("commands list must be an array of at most 100 items")
    for c in commands:
        if not isinstance(c, dict) or not re.match(r"^[a-z0-9_]{1,32}$", str(c.get("command", ""))):
            raise bad("BOT_COMMAND_INVALID")
        if not 1 <= len(str(c.get("description", ""))) <= 256:
            raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
    lang = str(call.params.get("language_code") or "")
    if lang and not re.match(r"^[a-z]{2}$", lang):
        raise bad("invalid language code specified")
    key = _key(call)
    if commands:
        call.world.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
    else:
        call.world.commands.pop(key, None)
    return True


async def get_my_commands(call: Call) -> list[JSON]:
    return list(call.world.commands.get(_key(call), []))


async def delete_my_commands(call: Call) -> bool:
    call.world.commands.pop(_key(call), None)
    return True


METHODS: dict[str, Handler] = {
    "getMe": get_me,
    "logOut": always_true,
    "close": always_true,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "setMyDescription": always_true,
    "setMyShortDescription": always_true,
    "setChatMenuButton": always_true,
}
