"""Webhook delivery: POST each pending update to the bot's URL, as Telegram does.

Up to the hook's ``max_connections`` requests at once, but at most one in flight per chat, so a
chat's updates arrive in order. A failed update stays first in its chat's queue and is delivered
again after ``retry_delay``; the other chats go on meanwhile. A method the bot returns in the
response body is executed, as Telegram does (the bot never learns whether it failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

import aiohttp

from bot.sandbox.files import Upload
from bot.sandbox.protocol import JSON, JSON_FIELDS, now_ts
from bot.sandbox.world import BotWorld, Webhook

# Runs the method a bot returned in its webhook response: (world, method name, params, files).
ReplyRunner = Callable[[BotWorld, str, JSON, dict[str, Upload]], Awaitable[None]]


def order_key(update: JSON) -> object:
    """The chat whose updates must arrive in order (the user for updates without a chat); an
    update with neither has no order to keep."""
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat")
        if chat is None and isinstance(payload.get("message"), dict):
            chat = payload["message"].get("chat")  # callback_query
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        user = payload.get("from") or payload.get("user")
        if isinstance(user, dict) and "id" in user:
            return ("chat", user["id"])  # private chats: the chat id is the user id
    return ("update", update.get("update_id"))


def _remove_by_identity(updates: list[JSON], update: JSON) -> None:
    # By identity (a delivered update is near the front): the list may have been replaced.
    for i, u in enumerate(updates):
        if u is update:
            del updates[i]
            return


class WebhookDelivery:
    """One delivery task per bot whose webhook is set."""

    def __init__(
        self, *, run_reply: ReplyRunner, closing: asyncio.Event, retry_delay: float = 1.0, timeout: float = 10.0
    ) -> None:
        self.run_reply = run_reply
        self.closing = closing
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.attempts = 0
        self.delivered = 0
        self.failures = 0
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def restart(self, world: BotWorld) -> None:
        """(Re)start delivering to ``world.webhook`` (after setWebhook)."""
        self.cancel(world)
        self._tasks[world.token] = asyncio.create_task(self._loop(world), name=f"webhook-delivery-{world.bot_id}")

    def cancel(self, world: BotWorld) -> None:
        task = self._tasks.pop(world.token, None)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _loop(self, world: BotWorld) -> None:
        hook = world.webhook
        if hook is None:
            return
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp.TCPConnector(limit=hook.max_connections)
        in_flight: dict[object, asyncio.Task[None]] = {}
        retry_at: dict[object, float] = {}  # chat key -> loop time before which it is not retried
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

            async def deliver(key: object, update: JSON) -> None:
                error = await self._post(world, session, hook, update)
                if error is None:
                    _remove_by_identity(world.updates, update)
                    self.delivered += 1
                else:
                    self.failures += 1
                    hook.last_error_date = now_ts()
                    hook.last_error_message = error
                    retry_at[key] = loop.time() + self.retry_delay
                in_flight.pop(key, None)
                world.notify()

            try:
                while world.webhook is hook and not self.closing.is_set():
                    now = loop.time()
                    for key in [k for k, t in retry_at.items() if t <= now]:
                        del retry_at[key]
                    busy = set(in_flight) | set(retry_at)  # chats whose next update must wait
                    dropped: list[JSON] = []
                    for update in world.updates:
                        if len(in_flight) >= hook.max_connections:
                            break
                        if not world.update_allowed(update, world.allowed_updates):
                            dropped.append(update)  # Telegram drops what the bot did not ask for
                            continue
                        key = order_key(update)
                        if key in busy:
                            continue
                        busy.add(key)
                        in_flight[key] = asyncio.create_task(deliver(key, update))
                    for update in dropped:
                        _remove_by_identity(world.updates, update)
                    # Woken by new updates and by finished deliveries (both notify); the timeout
                    # brings a chat waiting for its retry back.
                    wait = min(retry_at.values(), default=now + 1.0) - now
                    await world.wait_change(max(0.01, min(1.0, wait)))
            finally:
                tasks = list(in_flight.values())
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _post(self, world: BotWorld, session: aiohttp.ClientSession, hook: Webhook, update: JSON) -> str | None:
        """POST one update; None on success, else Telegram's last_error_message text."""
        self.attempts += 1
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        try:
            async with session.post(hook.url, json=update, headers=headers) as resp:
                if not 200 <= resp.status < 300:
                    await resp.read()
                    return f"Wrong response from the webhook: {resp.status} {resp.reason}"
                await self._reply(world, resp)
                return None
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except aiohttp.ClientError as e:
            return f"Connection error: {type(e).__name__}"

    async def _reply(self, world: BotWorld, resp: aiohttp.ClientResponse) -> None:
        """Telegram executes a method the bot returns in the webhook response body."""
        params: JSON = {}
        files: dict[str, Upload] = {}
        if resp.content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = await resp.json()
                if isinstance(body, dict):
                    params = body
        elif resp.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader.from_response(resp)
            async for part in reader:
                if isinstance(part, aiohttp.BodyPartReader) and part.name:
                    if part.filename:
                        files[part.name] = Upload(part.filename, bytes(await part.read()), None)
                    else:
                        params[part.name] = await part.text()
        else:
            await resp.read()
        method = params.pop("method", None)
        if not isinstance(method, str):
            return
        for key in JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        await self.run_reply(world, method, params, files)
