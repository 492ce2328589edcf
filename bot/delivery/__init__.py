"""Delivery of the outbox to Telegram: the worker, its pacing and its rendering of messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.delivery.worker import DeliveryWorker, WorkerConfig
from shared.runtime import Database
from shared.settings import Settings

log = logging.getLogger("claimdesk.delivery")

__all__ = ["DeliveryWorker", "WorkerConfig", "make_bot", "run_worker"]


def make_bot(token: str, api_base: str, *, timeout: float = 15.0) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base), timeout=timeout))


async def run_worker(
    settings: Settings,
    db: Database,
    stop: asyncio.Event,
    *,
    config: WorkerConfig | None = None,
    token: str | None = None,
    api_base: str | None = None,
    sweep: bool = True,
) -> None:
    """The worker as a part of `claimdesk run` / `claimdesk worker`: delivery plus the sweeper."""
    from shared.notifications.sweeper import run_sweeper
    from shared.outbox.leader import sending_turn

    api = settings.bot_api
    secret = token or api.token
    base = api_base or api.base
    if api.sandbox and token is None:
        # No BOT_TOKEN: the bot part runs the local sandbox emulator; deliver there too.
        log.info("delivery worker: no BOT_TOKEN, delivering to the local sandbox at %s", base)
    config = config or WorkerConfig(files_dir=settings.data_dir / "files")
    bot = make_bot(secret, base)
    if not await _reachable(bot, stop):
        await bot.session.close()
        return
    try:
        async with sending_turn(db.config, bot.id, stop) as holding:
            if not holding:
                return
            worker = DeliveryWorker(db.sessions, bot=bot, listen=db.config, config=config)
            tasks = [asyncio.create_task(worker.run(stop), name="delivery")]
            if sweep:
                tasks.append(asyncio.create_task(run_sweeper(db.sessions, stop), name="sweeper"))
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await bot.session.close()


async def _reachable(bot: Bot, stop: asyncio.Event) -> bool:
    """Wait until the Bot API answers (the sandbox may still be starting); False if stopped first."""
    warned = False
    while not stop.is_set():
        try:
            await bot.get_me()
            return True
        except Exception as exc:  # network, 5xx, bad token: say so once, keep trying
            if not warned:
                log.warning("delivery worker: the Bot API does not answer yet (%s); retrying", exc)
                warned = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
    return False
