"""The Bot API emulator: an aiohttp server speaking Telegram's HTTP protocol, and the test
driver's handle on it.

Unmodified aiogram (or any HTTP client) talks to it through
``TelegramAPIServer.from_base(emu.base_url)``; tests drive the human side through
:class:`~bot.sandbox.users.UserDriver` objects in the same event loop. The parts: transport.py
(HTTP), methods/ (the Bot API methods, one module per family), webhook.py (delivery), world.py
(what one bot sees), page.py (the browser sandbox).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from typing import Any

from aiohttp import web

from bot.sandbox.calls import Behaviour, Context, Methods
from bot.sandbox.chats import SentMessage, UserProfile
from bot.sandbox.errors import ApiError
from bot.sandbox.faults import FaultInjector
from bot.sandbox.files import Upload
from bot.sandbox.flood import FloodControl, FloodLimits
from bot.sandbox.groups import GroupDriver
from bot.sandbox.methods import METHODS
from bot.sandbox.methods.bot_info import scope_key
from bot.sandbox.page import add_sandbox_routes
from bot.sandbox.protocol import JSON
from bot.sandbox.transport import Transport
from bot.sandbox.users import UserDriver
from bot.sandbox.webhook import WebhookDelivery
from bot.sandbox.world import BotWorld

log = logging.getLogger(__name__)

# What a bot needs to keep a forum of topics: create and manage topics, tidy and pin messages.
DEFAULT_BOT_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


class BotApiEmulator:
    """A local Telegram Bot API server with a test/driver API.

    ``flood_limits``: False (off), True (Telegram's 30/s global, 1/s per chat) or a
    :class:`FloodLimits`.  ``webhook_retry_delay`` is the pause before a failed webhook
    delivery is retried; ``fault_hold`` how long a "timeout" fault holds the request.
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        tokens: list[str] | None = None,
        flood_limits: bool | FloodLimits = False,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 1.0,
        webhook_timeout: float = 10.0,
        fault_hold: float = 65.0,
        callback_ttl: float = 15.0,
        strict_ampersand: bool = True,
        bot_name: str = "Claimdesk Sandbox",
        bot_username: str | None = None,
        sandbox_ui: bool = True,
        require_start: bool = False,
    ) -> None:
        all_tokens = list(tokens) if tokens else [token]
        self.worlds: dict[str, BotWorld] = {
            t: BotWorld(t, first_name=bot_name, username=bot_username if i == 0 else None)
            for i, t in enumerate(all_tokens)
        }
        self.token = all_tokens[0]
        self.host = host
        self.port = port
        self.sandbox_ui = sandbox_ui
        self.faults = FaultInjector()
        self.flood = FloodControl(
            limits=flood_limits if isinstance(flood_limits, FloodLimits) else FloodLimits(),
            enabled=bool(flood_limits),
        )
        self.closing = asyncio.Event()
        self.webhooks = WebhookDelivery(
            run_reply=self._run_webhook_reply,
            closing=self.closing,
            retry_delay=webhook_retry_delay,
            timeout=webhook_timeout,
        )
        # Telegram refuses to let a bot write first; off by default so tests can seed chats.
        behaviour = Behaviour(strict_ampersand=strict_ampersand, require_start=require_start, callback_ttl=callback_ttl)
        self.methods = Methods(METHODS, Context(behaviour, self.flood, self.webhooks, self.closing))
        self.transport = Transport(self.worlds, self.methods, self.faults, closing=self.closing, fault_hold=fault_hold)
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def world(self) -> BotWorld:
        """The first bot's world (the only one unless ``tokens`` named several)."""
        return self.worlds[self.token]

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("emulator is not started")
        return f"http://{self.host}:{self.port}"

    def api_url(self, method: str, token: str | None = None) -> str:
        return f"{self.base_url}/bot{token or self.token}/{method}"

    def build_app(self) -> web.Application:
        app = self.transport.build_app()
        if self.sandbox_ui:
            add_sandbox_routes(app, self.world)
        return app

    async def start(self) -> str:
        """Listen on ``host:port`` (port 0: any free port); OSError when the port is taken."""
        self.closing.clear()
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            # asyncio's text repeats the address; the caller names it in its own words.
            raise OSError(exc.errno, os.strerror(exc.errno) if exc.errno else str(exc)) from exc
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]  # the port actually bound (port 0 picks one)
        return self.base_url

    async def stop(self) -> None:
        self.closing.set()
        for world in self.worlds.values():
            world.notify()
        await self.webhooks.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ driver API
    def _world(self, token: str | None) -> BotWorld:
        return self.worlds[token or self.token]

    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        token: str | None = None,
    ) -> UserDriver:
        """The driver of user ``user_id``; creates the user (and the private chat) on first use.

        Calling it again without ``first_name`` returns a driver of the existing user unchanged;
        with ``first_name`` the profile is replaced (later messages carry the new profile).
        """
        world = self._world(token)
        existing = world.chats.get(user_id)
        if existing is not None and first_name is None:
            return UserDriver(world, existing)
        profile = UserProfile(
            id=user_id,
            first_name=first_name or f"User {user_id}",
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        return UserDriver(world, world.chat_for(profile))

    def supergroup(
        self,
        chat_id: int | None = None,
        title: str = "Staff",
        *,
        forum: bool = True,
        owner_id: int = 1000,
        owner_name: str = "Owner",
        bot: str | None = "administrator",
        bot_rights: dict[str, bool] | None = None,
        token: str | None = None,
    ) -> GroupDriver:
        """A new supergroup (a forum with topics unless ``forum=False``) created by ``owner_id``,
        with the bot added as ``bot`` ("administrator", "member", or None: not added). An
        administrator bot gets ``bot_rights`` (default: manage topics, delete and pin messages)."""
        world = self._world(token)
        if chat_id is None:
            chat_id = -1_000_000_000_001 - sum(1 for c in world.chats if c < 0)
        owner = UserProfile(owner_id, owner_name, language_code="en")
        driver = GroupDriver(world, world.new_group(chat_id, title, is_forum=forum, owner=owner))
        if bot is not None:
            rights = DEFAULT_BOT_RIGHTS if bot_rights is None else bot_rights
            driver.set_bot(bot, **(rights if bot == "administrator" else {}))
        return driver

    def group(self, chat_id: int, *, token: str | None = None) -> GroupDriver:
        """The driver of an existing supergroup."""
        world = self._world(token)
        return GroupDriver(world, world.group_chat(chat_id))

    def sent(self, chat_id: int, token: str | None = None) -> list[SentMessage]:
        chat = self._world(token).chats.get(chat_id)
        return list(chat.sent) if chat else []

    @property
    def calls(self) -> list[tuple[str, JSON]]:
        """Every Bot API call made, in order: (method name, parameters)."""
        return self.methods.calls

    @property
    def method_counts(self) -> Counter[str]:
        return self.methods.counts

    def calls_of(self, method: str) -> list[JSON]:
        return self.methods.calls_of(method)

    @property
    def stats(self) -> JSON:
        return {
            "calls": dict(self.methods.counts),
            "total_calls": sum(self.methods.counts.values()),
            "responses_429": self.transport.responses_429,
            "flood_429": self.flood.rejected,
            "responses_5xx": self.transport.responses_5xx,
            "faults_injected": self.transport.faults_injected,
            "webhook_attempts": self.webhooks.attempts,
            "webhook_delivered": self.webhooks.delivered,
            "webhook_failures": self.webhooks.failures,
            "pending_updates": {t: len(w.updates) for t, w in self.worlds.items()},
        }

    def block(self, user_id: int, *, token: str | None = None) -> None:
        self._world(token).set_blocked(user_id, True)

    def unblock(self, user_id: int, *, token: str | None = None) -> None:
        self._world(token).set_blocked(user_id, False)

    def delete_account(self, user_id: int, *, token: str | None = None) -> None:
        chat = self._world(token).chats.get(user_id)
        if chat is None:
            raise LookupError(f"unknown user {user_id}")
        chat.deactivated = True

    def commands_for(self, language_code: str = "", scope: JSON | None = None, token: str | None = None) -> list[JSON]:
        """The command list stored for (scope, language)."""
        return list(self._world(token).commands.get(scope_key(scope, language_code), []))

    async def call(self, method: str, params: JSON | None = None, *, token: str | None = None) -> Any:
        """Execute a Bot API method in-process, as if the bot had called it; raises ApiError."""
        entry = self.methods.find(method)
        if entry is None:
            raise ApiError(404, "Not Found")
        return await self.methods.run(entry, self._world(token), dict(params or {}), {})

    async def _run_webhook_reply(self, world: BotWorld, method: str, params: JSON, files: dict[str, Upload]) -> None:
        entry = self.methods.find(method)
        if entry is None:
            return
        try:
            await self.methods.run(entry, world, params, files)
        except ApiError as e:  # the bot never learns about errors of webhook replies
            log.info("webhook reply %s failed: %s", entry[0], e.description)


async def serve_sandbox(
    host: str = "127.0.0.1", port: int = 8081, token: str = "123456:SANDBOX", *, staff_group: int | None = None
) -> BotApiEmulator:
    """Start an emulator with the browser sandbox; point the bot at ``emu.base_url``.

    The page is at ``{base_url}/sandbox/``.  The control API has no authentication, so keep
    ``host`` on loopback. OSError when ``port`` is taken. ``staff_group``: the id of a forum
    supergroup to create ("Staff", the bot an administrator that manages topics), shown on the
    page beside the customer's chat (a group's id is negative; any other id makes none).
    """
    emu = BotApiEmulator(token, host=host, port=port, sandbox_ui=True, bot_name="Claimdesk (sandbox)")
    if staff_group is not None and staff_group < 0:
        emu.supergroup(staff_group, "Staff")
    await emu.start()
    log.info("Telegram sandbox: %s/sandbox/ (Bot API at %s)", emu.base_url, emu.base_url)
    return emu
