"""One Bot API call as a method sees it, the table of methods, and the log of every call made.

A method is an async function taking a :class:`Call` and returning the JSON ``result`` (or raising
:class:`~bot.sandbox.errors.ApiError`). Each family of methods (``bot/sandbox/methods/``) lists
its functions in a ``METHODS`` dict; :class:`Methods` finds them by name, case-insensitively, as
Telegram does, and records every call for the tests (``emu.calls_of("sendMessage")``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.errors import bad
from bot.sandbox.files import Upload
from bot.sandbox.flood import FloodControl
from bot.sandbox.protocol import JSON
from bot.sandbox.webhook import WebhookDelivery
from bot.sandbox.world import BotWorld


@dataclass
class Behaviour:
    """How strict the emulator is where Telegram leaves a choice (set by BotApiEmulator's arguments)."""

    strict_ampersand: bool = True  # a stray "&" in HTML is an error (Telegram passes it through)
    require_start: bool = False  # a bot may not write first to a user who never wrote to it
    callback_ttl: float = 15.0  # seconds a callback query can be answered


@dataclass
class Context:
    """What methods share beyond one bot's world."""

    behaviour: Behaviour
    flood: FloodControl
    webhooks: WebhookDelivery
    closing: asyncio.Event  # set when the emulator stops: long polls return at once
    poll_generation: dict[str, int] = field(default_factory=dict)  # per token: the newest getUpdates


@dataclass
class Call:
    """One call of a Bot API method: the bot's world, its parameters and uploaded files."""

    world: BotWorld
    params: JSON
    files: dict[str, Upload]
    context: Context

    def int(self, key: str, default: int | None = None, *, source: JSON | None = None) -> int | None:
        """An integer parameter (form fields arrive as strings); ``default`` when absent or empty."""
        value = (self.params if source is None else source).get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {key} specified") from None

    def bool(self, key: str, *, source: JSON | None = None) -> bool:
        value = (self.params if source is None else source).get(key)
        if isinstance(value, str):
            return value.lower() in ("true", "1", "yes")
        return bool(value)


Handler = Callable[[Call], Awaitable[Any]]
Entry = tuple[str, Handler]  # (the method's canonical name, its function)


class Methods:
    """The Bot API methods by name, and the log of every call made to them."""

    def __init__(self, table: dict[str, Handler], context: Context) -> None:
        self._by_name: dict[str, Entry] = {name.lower(): (name, fn) for name, fn in table.items()}
        self.context = context
        self.calls: list[tuple[str, JSON]] = []
        self.counts: Counter[str] = Counter()

    def find(self, method: str) -> Entry | None:
        return self._by_name.get(method.lower())

    def record(self, name: str, params: JSON) -> None:
        self.calls.append((name, params))
        self.counts[name] += 1

    async def execute(self, entry: Entry, world: BotWorld, params: JSON, files: dict[str, Upload]) -> Any:
        """Run a recorded call; raises ApiError as the method does."""
        return await entry[1](Call(world, params, files, self.context))

    async def run(self, entry: Entry, world: BotWorld, params: JSON, files: dict[str, Upload]) -> Any:
        """Record the call, then execute it."""
        self.record(entry[0], params)
        return await self.execute(entry, world, params, files)

    def calls_of(self, method: str) -> list[JSON]:
        m = method.lower()
        return [p for name, p in self.calls if name.lower() == m]
