"""Delivery of the outbox to Telegram: the worker, its pacing and its rendering of messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNotFound, TelegramUnauthorizedError

from bot.delivery.worker import DeliveryWorker, WorkerConfig
from bot.token import refused_token
from shared.outbox.leader import sending_turn
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
    # One worker for the process: sends whose bookkeeping waits for the database outlive a lost
    # sending lock, and the next turn claims nothing until they are recorded.
    worker = DeliveryWorker(db.sessions, bot=bot, listen=db.config, config=config)
    try:
        while not stop.is_set():
            async with sending_turn(db.config, bot.id, stop, outages=worker.outages) as lost:
                if lost is None:
                    return
                await _send_while_held(worker, db, stop, lost, sweep=sweep)
            if not stop.is_set():
                log.warning(
                    "%s: lost the sending lock (its database connection closed); not sending until it is held again",
                    config.name,
                )
    finally:
        await worker.close()
        await bot.session.close()


async def _send_while_held(
    worker: DeliveryWorker, db: Database, stop: asyncio.Event, lost: asyncio.Event, *, sweep: bool
) -> None:
    """Deliver (and sweep) until the process stops or the sending lock is lost."""
    from shared.notifications.sweeper import run_sweeper

    turn_over = asyncio.Event()
    relay = asyncio.create_task(_first_of(stop, lost, then=turn_over))
    tasks = [asyncio.create_task(worker.run(turn_over, final=stop), name="delivery")]
    if sweep:
        tasks.append(asyncio.create_task(run_sweeper(db.sessions, turn_over), name="sweeper"))
    try:
        await asyncio.gather(*tasks)
    finally:
        relay.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(relay, *tasks, return_exceptions=True)


async def _first_of(*events: asyncio.Event, then: asyncio.Event) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
    then.set()


async def _reachable(bot: Bot, stop: asyncio.Event) -> bool:
    """Wait until the Bot API answers (the sandbox may still be starting); False if stopped first.
    A token Telegram refuses ends the process (`StartupError`: one line naming BOT_TOKEN, exit 2)."""
    warned = False
    while not stop.is_set():
        try:
            await bot.get_me()
            return True
        except (TelegramUnauthorizedError, TelegramNotFound) as exc:
            raise refused_token(exc) from None
        except Exception as exc:  # network, 5xx: say so once, keep trying
            if not warned:
                log.warning("delivery worker: the Bot API does not answer yet (%s); retrying", exc)
                warned = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
    return False
