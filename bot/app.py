"""The customers' bot: Bot, Dispatcher, long polling and webhook modes, and the `serve` part that
`claimdesk run` / `claimdesk bot` start (with the local sandbox emulator when BOT_TOKEN is unset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import DisabledEventIsolation
from aiogram.methods import TelegramMethod
from aiogram.types import BotCommand, BotCommandScopeDefault, Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.api_session import api_session, json_params
from bot.fsm import CommittedRedisStorage, PostgresStorage, create_storage
from bot.middlewares import CustomerMiddleware, ReplyThrottle, UpdateTransactionMiddleware
from bot.plain_texts import (
    HANDLE,
    OFFERED,
    PlainTextMiddleware,
    PlainTexts,
    plain_text_of_json,
    plain_text_prefixes,
)
from bot.polling import poll
from bot.router_gates import gate_routers
from bot.routers import ROUTERS, build_routers
from shared.i18n import SUPPORTED, get_translator
from shared.runtime import Database, StartupError
from shared.settings import Settings

log = logging.getLogger("claimdesk.bot")

WEBHOOK_PATH = "/telegram/webhook"
PLAIN_TEXTS = "claimdesk_plain_texts"  # the dispatcher's `PlainTexts`, when plain texts take their path
COMMANDS = ("start", "new", "claims", "lang", "help", "cancel")


# Updates handled at once, in either mode: the most Telegram allows a webhook (and one getUpdates
# answer's worth). Plain texts (most updates) wait for a shared statement, the others for one of
# the pool's connections; fewer at once left the database waiting for the bot (bench/bot_ingest.py).
UPDATES_AT_ONCE = 100


def _inline(sync: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return sync(*args, **kwargs)

    return call


def create_bot(settings: Settings, *, token: str | None = None, api_base: str | None = None) -> Bot:
    session = api_session(api_base or settings.telegram_api_base)
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
    if isolation is None:
        from aiogram.fsm.storage.memory import SimpleEventIsolation

        isolation = SimpleEventIsolation()
    # FSM is wired by hand: the transaction middleware must hold the per-chat lock across the
    # commit, and aiogram's own FSM middleware (which would take it) sits inside the transaction.
    dp = Dispatcher(storage=storage, events_isolation=isolation, disable_fsm=True)
    fsm = FSMContextMiddleware(storage=storage, events_isolation=DisabledEventIsolation())

    def fsm_key(bot: Bot, data: dict[str, Any]) -> str | None:
        # aiogram's own resolution of the update's FSM key, so the record read up front is the
        # one FSMContext asks the storage for.
        if not isinstance(storage, PostgresStorage):
            return None
        context = fsm.resolve_event_context(bot, data)
        return storage.key_builder.build(context.key) if context is not None else None

    replies = dp["replies"] = ReplyThrottle.from_settings(settings.redis_url)
    dp.include_routers(*build_routers(routers))
    # A known customer's plain text outside any wizard: one statement instead of the routers'
    # transaction (bot.plain_texts), when the routers let such a text reach only the catch-all.
    prefixes = plain_text_prefixes(dp)
    if isinstance(storage, PostgresStorage | CommittedRedisStorage) and prefixes is not None:
        # A fifth of the updates in flight as statements at once (2 by default): the others'
        # texts wait for the next one and share its commit.
        texts = dp[PLAIN_TEXTS] = PlainTexts(
            sessions, storage, isolation, replies, prefixes=prefixes, statements=max(2, settings.db_pool_size // 5)
        )
        dp.update.outer_middleware(PlainTextMiddleware(texts))
        dp.shutdown.register(texts.close)
    dp.update.outer_middleware(
        UpdateTransactionMiddleware(
            sessions,
            isolation,
            webhook=webhook,
            default_language=settings.default_language,
            fsm_key=fsm_key,
            transactions=settings.db_pool_size,
        )
    )
    dp.update.outer_middleware(fsm)
    dp.update.outer_middleware(CustomerMiddleware(settings.default_language))
    gate_routers(dp)
    run_sync_filters_inline(dp)
    return dp


def run_sync_filters_inline(router: Router) -> None:
    """aiogram 3 runs every synchronous filter (each `F.text == ...`) through `asyncio.to_thread`:
    a thread hand-off per filter per update, most of the routing cost. Ours are cheap pure checks,
    so they run inline on the event loop; their arguments are injected as before."""
    for sub in router.chain_tail:
        for observer in sub.observers.values():
            objects = [*(observer._handler.filters or ()), *(f for h in observer.handlers for f in h.filters or ())]
            for item in objects:
                if not item.awaitable:
                    item.callback = _inline(item.callback)
                    item.awaitable = True


async def set_commands(bot: Bot, default_language: str) -> None:
    """The command menu in each language, and the default language's for everyone else."""
    for language in (*SUPPORTED, None):
        t = get_translator(language or default_language)
        commands = [BotCommand(command=name, description=t(f"bot.cmd.{name}")) for name in COMMANDS]
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language)


class CommittedRequestHandler(SimpleRequestHandler):
    """Answers Telegram only when the update's transaction has committed.

    aiogram's handler answers early after 55 s (or at once with handle_in_background) and goes on
    in the background; then a failure would lose the update. Here any failure is a 500 and
    Telegram delivers the update again; a reply the handler returned travels in the response.
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret_token: str | None, **data: Any) -> None:
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token, **data)

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        raw = await request.json(loads=bot.session.json_loads)
        texts: PlainTexts | None = self.dispatcher.get(PLAIN_TEXTS)
        offered = False
        if texts is not None and (text := plain_text_of_json(raw, texts.prefixes)) is not None:
            # The most frequent update, before aiogram parses it (bot.plain_texts).
            offered = True
            try:
                result: Any = await texts.handle(bot, text)
            except Exception:
                log.exception("update %s failed; not acknowledged, Telegram will deliver it again", text.update_id)
                return web.Response(status=500, text="update not processed")
            if result is not HANDLE:
                return self._reply(bot, result)
        update = Update.model_validate(raw, context={"bot": bot})
        try:
            result = await self.dispatcher.feed_update(bot, update, **self.data, **{OFFERED: offered})
        except Exception:
            log.exception("update %s failed; not acknowledged, Telegram will deliver it again", update.update_id)
            return web.Response(status=500, text="update not processed")
        return self._reply(bot, result)

    def _reply(self, bot: Bot, result: Any) -> web.Response:
        method = result if isinstance(result, TelegramMethod) else None
        if method is not None and (body := self._json_reply(bot, method)) is not None:
            return web.Response(body=body, content_type="application/json")
        return web.Response(body=self._build_response_writer(bot=bot, result=method))

    @staticmethod
    def _json_reply(bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The reply as a JSON body (`bot.api_session`); None when it uploads a file, then
        aiogram's form is used."""
        params = json_params(bot, method)
        if params is None:
            return None
        return bot.session.json_dumps({"method": method.__api_method__, **params}).encode()

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
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    public = url or f"http://{host}:{port}{WEBHOOK_PATH}"
    try:
        await bot.set_webhook(
            public,
            secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(),
            # The transaction middleware lets at most the pool's size of them hold a connection
            # at once, so no overflow connection is opened and closed around an update.
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
        async with webhook_server(
            dp, bot, host=settings.webhook_host, port=port, url=settings.webhook_url, secret=secret
        ) as url:
            log.info("bot: webhook at %s", url)
            await dp.emit_startup(bot=bot)
            try:
                await stop.wait()
            finally:
                await dp.emit_shutdown(bot=bot)
        return
    await bot.delete_webhook()
    await dp.emit_startup(bot=bot)
    task = asyncio.create_task(
        poll(
            dp,
            bot,
            dp.get(PLAIN_TEXTS),
            polling_timeout=polling_timeout,
            allowed_updates=dp.resolve_used_update_types(),
            # As in webhook mode (the transaction middleware bounds the pool's use).
            at_once=UPDATES_AT_ONCE,
        )
    )
    log.info("bot: long polling")
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # not only the polling task: this one is being cancelled too
        finally:
            await dp.emit_shutdown(bot=bot)


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
        await run_dispatcher(dp, bot, settings, stop, webhook=settings.bot_mode == "webhook")
    finally:
        await dp.storage.close()
        await bot.session.close()
        if emulator is not None:
            await emulator.stop()
