"""Long polling that reads plain texts from getUpdates' JSON, as the webhook reads them from its
request body (bot.plain_texts).

aiogram's `Dispatcher.start_polling` parses every update of a getUpdates answer into pydantic
models before handing any of them on: for the desk's most frequent update, a plain text, that
parse cost as much CPU as storing it (bench/bot_ingest.py, polling mode). Here a plain text goes
to `PlainTexts` straight from the JSON; any other update (and any text it declines) is parsed by
aiogram and fed to the dispatcher, whose result (a method a handler returned) is then called, as
aiogram's polling does. Like aiogram's: updates are handled concurrently (`at_once` at most), a
failed getUpdates is retried with aiogram's backoff, a failed update is logged and skipped (an
update that cannot be parsed too, where aiogram would retry the whole answer forever), and on
stop the updates in hand are finished before returning.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from aiogram.utils.backoff import Backoff

from bot.api_session import JsonSession
from bot.plain_texts import HANDLE, OFFERED, PlainTexts, plain_text_of_json

log = logging.getLogger("claimdesk.bot")


async def poll(
    dp: Dispatcher,
    bot: Bot,
    texts: PlainTexts | None,
    *,
    polling_timeout: int,
    allowed_updates: list[str],
    at_once: int,
) -> None:
    """Fetch and handle updates until cancelled."""
    session = bot.session
    if not isinstance(session, JsonSession):
        raise TypeError("bot.polling needs a bot made by bot.app.create_bot (a JsonSession)")
    backoff = Backoff(config=DEFAULT_BACKOFF_CONFIG)
    free = asyncio.Semaphore(at_once)
    handling: set[asyncio.Task[None]] = set()
    method = GetUpdates(timeout=polling_timeout, allowed_updates=allowed_updates)
    # Longer than the long poll itself, or every quiet poll would end as a timeout.
    request_timeout = int(session.timeout + polling_timeout)
    failed = False
    try:
        while True:
            try:
                raw_updates = await session.get_updates(bot, method, timeout=request_timeout)
            except Exception as exc:
                failed = True
                log.error(
                    "failed to fetch updates - %s: %s; retrying in %.1f s", type(exc).__name__, exc, backoff.next_delay
                )
                await backoff.asleep()
                continue
            if failed:
                log.info("fetching updates again")
                backoff.reset()
                failed = False
            for raw in raw_updates:
                update_id = raw.get("update_id") if isinstance(raw, dict) else None
                if not isinstance(update_id, int):
                    log.error("getUpdates returned an update without an id; skipped: %.200r", raw)
                    continue
                method.offset = update_id + 1  # confirmed to Telegram by the next getUpdates
                await free.acquire()
                task = asyncio.create_task(_handle(dp, bot, texts, raw))
                handling.add(task)
                task.add_done_callback(handling.discard)
                task.add_done_callback(lambda _: free.release())
    finally:
        # Stopping: what was taken is finished (each update commits or is redelivered later).
        if handling:
            await asyncio.gather(*handling, return_exceptions=True)


async def _handle(dp: Dispatcher, bot: Bot, texts: PlainTexts | None, raw: dict[str, Any]) -> None:
    try:
        text = plain_text_of_json(raw, texts.prefixes) if texts is not None else None
        result: Any = await texts.handle(bot, text) if texts is not None and text is not None else HANDLE
        if result is HANDLE:
            update = Update.model_validate(raw, context={"bot": bot})
            result = await dp.feed_update(bot, update, **{OFFERED: text is not None})
        if isinstance(result, TelegramMethod):
            try:
                await bot(result)
            except Exception as exc:  # the update is handled; the reply is lost, as in aiogram's polling
                log.warning("update %s: reply %s not sent: %s", raw.get("update_id"), result.__api_method__, exc)
    except Exception:
        log.exception("update %s failed", raw.get("update_id"))
