"""The customers' bot: Bot, Dispatcher, long polling and webhook modes, and the `serve` part that
`claimdesk run` / `claimdesk bot` start (with the local sandbox emulator when BOT_TOKEN is unset).

Both modes are aiogram's own: `Dispatcher.start_polling` (updates handled as tasks, at most
`UPDATES_AT_ONCE` at a time) and aiogram's webhook request handler, answering Telegram only once
the update's transaction has committed (`CommittedRequestHandler`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramNotFound, TelegramUnauthorizedError
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import DisabledEventIsolation, SimpleEventIsolation
from aiogram.types import BotCommand, BotCommandScopeDefault, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import ErrorPolicy, RedeliverUpdate
from bot.fsm import create_storage
from bot.link_attempts import LinkAttempts
from bot.middlewares import CustomerMiddleware, UpdateTransactionMiddleware
from bot.observe import ObserveUpdateMiddleware
from bot.routers import ROUTERS, build_routers
from bot.throttle import ReplyThrottle
from bot.token import refused_token
from shared.i18n import SUPPORTED, get_translator
from shared.runtime import Database, StartupError
from shared.settings import Settings

log = logging.getLogger("claimdesk.bot")

WEBHOOK_PATH = "/telegram/webhook"
COMMANDS = ("start", "new", "claims", "lang", "help", "cancel")
FSM_STORAGE = "fsm_storage"  # the dispatcher's FSM storage (aiogram's name for it in handler data)

# Updates handled at once, in either mode: the most Telegram allows a webhook (and one getUpdates
# answer's worth). Those of one chat take turns; the others wait for one of the pool's
# connections (the transaction middleware lets at most the pool's size hold one).
UPDATES_AT_ONCE = 100


def create_bot(settings: Settings, *, token: str | None = None, api_base: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base or settings.telegram_api_base))
    raw_token = token or (settings.bot_token.get_secret_value() if settings.bot_token else None)
    if not raw_token:
        raise StartupError("BOT_TOKEN: not set")
    return Bot(raw_token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def create_dispatcher(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    webhook: bool = False,
    storage: BaseStorage | None = None,
    isolation: BaseEventIsolation | None = None,
    routers: tuple[str, ...] = ROUTERS,
) -> Dispatcher:
    """A dispatcher over `sessions`; `storage` defaults to PostgreSQL (RedisStorage with REDIS_URL)."""
    if storage is None:
        storage, default_isolation = create_storage(settings.redis_url, sessions)
        isolation = isolation or default_isolation
    isolation = isolation or SimpleEventIsolation()
    # aiogram's FSM middleware is added by hand, inside the transaction middleware: the chat's
    # turn must be taken before the state is read and held across the commit (aiogram puts its
    # own FSM middleware, and its lock, outside every middleware we add). With `disable_fsm`
    # aiogram keeps no storage of ours: the dispatcher's shutdown closes it, after the updates in
    # hand are finished.
    dp = Dispatcher(disable_fsm=True)
    dp[FSM_STORAGE] = storage
    replies = dp["replies"] = ReplyThrottle.from_settings(settings.redis_url)
    dp["link_attempts"] = LinkAttempts.from_settings(settings.redis_url)  # bot/routers/staff_link.py
    errors = ErrorPolicy(sessions, replies, webhook=webhook, default_language=settings.default_language)
    transactions = UpdateTransactionMiddleware(
        sessions,
        isolation,
        errors,
        webhook=webhook,
        transactions=settings.db_pool_size,
        staff_chat_id=settings.staff_chat_id,
    )
    dp.update.outer_middleware(ObserveUpdateMiddleware())  # the update's id on its log lines; counted
    dp.update.outer_middleware(transactions)
    dp.update.outer_middleware(FSMContextMiddleware(storage=storage, events_isolation=DisabledEventIsolation()))
    dp.update.outer_middleware(CustomerMiddleware(settings.default_language))
    # What escapes the transaction middleware (bot.errors); an outage it turned into
    # RedeliverUpdate goes on to the webhook's answer.
    dp.errors.register(errors.on_error, ~ExceptionTypeFilter(RedeliverUpdate))
    dp.shutdown.register(transactions.finish)
    dp.shutdown.register(storage.close)
    dp.shutdown.register(isolation.close)
    dp.include_routers(*build_routers(routers))
    return dp


async def check_token(bot: Bot) -> None:
    """A token Telegram refuses ends the process with one line naming BOT_TOKEN (exit 2); any
    other failure (the network, a 5xx) is left to the calls that follow and the part's restarts."""
    try:
        await bot.get_me()
    except (TelegramUnauthorizedError, TelegramNotFound) as exc:
        raise refused_token(exc) from None
    except (TelegramAPIError, TelegramNetworkError, OSError, TimeoutError):
        return


async def set_commands(bot: Bot, default_language: str) -> None:
    """The command menu in each language, and the default language's for everyone else."""
    for language in (*SUPPORTED, None):
        t = get_translator(language or default_language)
        commands = [BotCommand(command=name, description=t(f"bot.cmd.{name}")) for name in COMMANDS]
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language)


class CommittedRequestHandler(SimpleRequestHandler):
    """aiogram's webhook handler, answering Telegram only once the update's transaction has
    committed: 200 then, 503 when the database is out (`RedeliverUpdate`: Telegram delivers the
    update again), 500 for anything the errors handler could not take.

    aiogram's own handler cannot do this: in the background mode it answers before the update is
    handled; otherwise (`feed_webhook_update`) it answers 200 after 55 s whatever happens and
    goes on in the background, and it has no status for "not stored, send it again". Only
    public methods are used (`handle`, `resolve_bot`, `verify_secret`, `Dispatcher.feed_update`).
    Remove this class when aiogram lets the application decide how an update is acknowledged
    (aiogram issue #1397, "Add more control on how updates acknowledged").
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str | None, **data: Any) -> None:
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token, **data)

    async def handle(self, request: web.Request) -> web.Response:
        bot = await self.resolve_bot(request)
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), bot):
            return web.Response(body="Unauthorized", status=401)
        try:
            update = Update.model_validate(await request.json(loads=bot.session.json_loads), context={"bot": bot})
        except (ValueError, ValidationError) as exc:
            # Telegram would send it again and again: it is not an update this bot understands.
            log.error("webhook: a request that is no update was acknowledged and dropped: %s", exc)
            return web.json_response({})
        try:
            await self.dispatcher.feed_update(bot, update, **self.data)
        except RedeliverUpdate:
            return web.Response(status=503, text="update not stored; deliver it again")
        except Exception:
            log.exception("update %s failed in the errors handler; not acknowledged", update.update_id)
            return web.Response(status=500, text="update not processed")
        return web.json_response({})

    __call__ = handle

    async def close(self) -> None:
        return None  # the bot's session belongs to whoever created the bot


def create_webhook_app(dp: Dispatcher, bot: Bot, *, secret: str | None, path: str = WEBHOOK_PATH) -> web.Application:
    app = web.Application()
    CommittedRequestHandler(dp, bot, secret_token=secret).register(app, path=path)
    return app


@contextlib.asynccontextmanager
async def webhook_server(
    dp: Dispatcher, bot: Bot, *, host: str, port: int, url: str | None, secret: str | None
) -> AsyncIterator[str]:
    """Listen, then register the webhook (so the first delivery finds us); yields the URL."""
    path = urlsplit(url).path if url else WEBHOOK_PATH
    runner = web.AppRunner(create_webhook_app(dp, bot, secret=secret, path=path or WEBHOOK_PATH), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(f"WEBHOOK_PORT: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if port == 0:
        port = runner.addresses[0][1]
    public = url or f"http://{host}:{port}{WEBHOOK_PATH}"
    try:
        await bot.set_webhook(
            public,
            secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(),
            max_connections=UPDATES_AT_ONCE,
        )
        yield public
    finally:
        await runner.cleanup()


async def run_dispatcher(
    dp: Dispatcher,
    bot: Bot,
    settings: Settings,
    stop: asyncio.Event,
    *,
    webhook: bool,
    polling_timeout: int = 10,
    webhook_port: int | None = None,
) -> None:
    """Run in the chosen mode until `stop` is set."""
    await set_commands(bot, settings.default_language)
    if webhook:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else secrets.token_urlsafe(32)
        port = settings.webhook_port if webhook_port is None else webhook_port
        await dp.emit_startup(bot=bot)
        try:
            # Leaving the block stops listening and waits for the requests in hand.
            async with webhook_server(
                dp, bot, host=settings.webhook_host, port=port, url=settings.webhook_url, secret=secret
            ) as url:
                log.info("bot: webhook at %s", url)
                await stop.wait()
        finally:
            await dp.emit_shutdown(bot=bot)
        return
    await bot.delete_webhook()
    polling = asyncio.create_task(
        dp.start_polling(
            bot,
            polling_timeout=polling_timeout,
            handle_as_tasks=True,
            tasks_concurrency_limit=UPDATES_AT_ONCE,
            allowed_updates=dp.resolve_used_update_types(),
            handle_signals=False,  # the `claimdesk` command handles them and sets `stop`
            close_bot_session=False,  # the bot's session belongs to whoever created the bot
        )
    )
    log.info("bot: long polling")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not polling.done():
            try:
                await dp.stop_polling()  # polling emits the dispatcher's shutdown: updates in hand finish
            except RuntimeError:  # stopped before polling had started
                polling.cancel()
        try:
            await polling
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # not only the polling task: this one is being cancelled too


async def serve(settings: Settings, db: Database, stop: asyncio.Event) -> None:
    """The bot as a part of `claimdesk run` (and `claimdesk bot`).

    Without BOT_TOKEN the local Bot API emulator is started as a sandbox and the bot talks to it;
    the log says where its page is.
    """
    # aiogram logs every update at INFO: noise at hundreds of messages a second.
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    emulator = None
    api = settings.bot_api
    api_base, token = api.base, api.token
    if api.sandbox:
        from bot.sandbox import serve_sandbox

        try:
            # STAFF_CHAT_ID: the sandbox has that staff group (a forum, the bot managing its topics).
            emulator = await serve_sandbox(
                "127.0.0.1", settings.sandbox_port, token, staff_group=settings.staff_chat_id
            )
        except OSError as exc:
            # Never another port: the delivery worker and the back-office reach the sandbox on
            # SANDBOX_PORT, and would talk to whatever else listens there.
            raise StartupError(
                f"SANDBOX_PORT: cannot listen on 127.0.0.1:{settings.sandbox_port} for the Telegram sandbox: "
                f"{exc.strerror or exc}"
            ) from None
        api_base = emulator.base_url
        log.info(
            "bot: no BOT_TOKEN, so the bot runs against the local sandbox. Talk to it in a browser: %s/sandbox/",
            emulator.base_url,
        )
    bot = create_bot(settings, token=token, api_base=api_base)
    dp = create_dispatcher(db.sessions, settings, webhook=settings.bot_mode == "webhook")
    try:
        await check_token(bot)
        await run_dispatcher(dp, bot, settings, stop, webhook=settings.bot_mode == "webhook")
    finally:
        await bot.session.close()
        if emulator is not None:
            await emulator.stop()
