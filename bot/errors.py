"""The bot's error policy: what a customer hears and what Telegram is told when an update fails.

- **The database is out** (`is_outage`: the connection refused or lost, the server shutting down,
  a timeout, too many connections): nothing of the update was stored. The customer is told "try
  again in a minute" (at most once a minute per chat, however often the update comes back). In
  webhook mode Telegram gets no 2xx (`RedeliverUpdate`, answered 503) and delivers the update
  again; in polling mode the update was confirmed to Telegram when it was fetched, so the
  transaction middleware keeps it and tries again, with a growing pause, until the database
  answers.
- **Anything else** (a constraint violation, bad data, a bug) would fail the same way however
  often it was delivered: it is logged once with the update id, the customer gets a short
  apology, the update id is recorded as handled (a redelivery is skipped), and the update is
  acknowledged (webhook: 200). This runs in the dispatcher's errors handler (`dp.errors`), which
  catches what escapes the transaction middleware, and anything raised before it.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot
from aiogram.dispatcher.middlewares.user_context import EVENT_CONTEXT_KEY, EventContext
from aiogram.types import Chat, ErrorEvent, Update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.throttle import ReplyThrottle
from shared.bot_state.service import claim_update
from shared.i18n import Translator, get_translator, normalize_language
from shared.logs import update_context
from shared.outage import OutageLog, is_outage

log = logging.getLogger("claimdesk.bot")


class RedeliverUpdate(Exception):
    """The update was not stored because the database is out: answer Telegram without a 2xx, so
    that it delivers the update again."""

    def __init__(self, update_id: int) -> None:
        super().__init__(f"update {update_id} not stored; the database is unavailable")
        self.update_id = update_id


def update_chat(update: Update) -> Chat | None:
    """The chat an update happens in (a callback's: the chat of the message it is attached to)."""
    if update.message is not None:
        return update.message.chat
    if update.edited_message is not None:
        return update.edited_message.chat
    if update.callback_query is not None and update.callback_query.message is not None:
        return update.callback_query.message.chat
    return None


def is_private(update: Update) -> bool:
    """False for an update from a group, supergroup or channel; True for a private chat and for
    updates that have no chat (an inline message's callback happens between the bot and the user)."""
    chat = update_chat(update)
    return chat is None or chat.type == "private"


class ErrorPolicy:
    """The two answers above; `on_error` is the dispatcher's errors handler."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        replies: ReplyThrottle,
        *,
        webhook: bool,
        default_language: str,
    ) -> None:
        self.sessions = sessions
        self.webhook = webhook
        self.default_language = default_language
        # Apologies count with the acknowledgements: a bug that fails a burst answers it a few times.
        self.replies = replies
        # "Try again" at most once a minute per chat, however often Telegram redelivers.
        self.outage_replies = ReplyThrottle(limit=1, seconds=60)
        # The outage is logged when it starts and when it ends, not for every update meanwhile.
        self.outages = OutageLog("bot", logger=log)

    async def outage(self, update: Update, data: dict[str, Any], exc: BaseException) -> None:
        """Log the outage and tell the customer to try again (throttled)."""
        self.outages.failed(exc, "updates are kept and tried again" if not self.webhook else "answering Telegram 503")
        log.debug("update %s not stored, the database is unavailable", update.update_id)
        chat_id = self._private_chat(update, data)
        if chat_id is not None and await self.outage_replies.allow(chat_id, "outage"):
            await self._tell(data, chat_id, "bot.error.try_later")

    async def failed(self, update: Update, data: dict[str, Any], exc: BaseException) -> None:
        """Log the failure once, record the update as handled and apologise (throttled)."""
        log.error("update %s failed; apologised and acknowledged", update.update_id, exc_info=exc)
        try:
            async with self.sessions.begin() as session:
                await claim_update(session, update_id=update.update_id)
        except Exception as record_exc:
            log.warning("update %s: not recorded as handled: %s", update.update_id, record_exc)
        chat_id = self._private_chat(update, data)
        if chat_id is not None and await self.replies.allow(chat_id, "sorry"):
            await self._tell(data, chat_id, "bot.error.sorry")

    async def on_error(self, event: ErrorEvent, **data: Any) -> None:
        """What escaped the transaction middleware (or came before it)."""
        with update_context(event.update.update_id):  # aiogram calls this outside our middlewares
            await self._on_error(event, data)

    async def _on_error(self, event: ErrorEvent, data: dict[str, Any]) -> None:
        if not is_outage(event.exception):
            await self.failed(event.update, data, event.exception)
            return
        await self.outage(event.update, data, event.exception)
        if self.webhook:
            raise RedeliverUpdate(event.update.update_id) from event.exception
        # Polling: outside the middleware there is no keeping the update (it was confirmed).
        log.error("update %s lost: the database failed outside the update's transaction", event.update.update_id)

    @staticmethod
    def _private_chat(update: Update, data: dict[str, Any]) -> int | None:
        """Where to answer: the update's chat, when it is private (the bot talks nowhere else)."""
        context: EventContext | None = data.get(EVENT_CONTEXT_KEY)
        if context is None or context.chat_id is None or not is_private(update):
            return None
        return context.chat_id

    def _translator(self, data: dict[str, Any]) -> Translator:
        """The customer's language when the update got that far (`t`), else Telegram's."""
        t: Translator | None = data.get("t")
        if t is not None:
            return t
        context: EventContext | None = data.get(EVENT_CONTEXT_KEY)
        code = context.user.language_code if context is not None and context.user is not None else None
        return get_translator(normalize_language(code, self.default_language))

    async def _tell(self, data: dict[str, Any], chat_id: int, key: str) -> None:
        bot: Bot = data["bot"]
        try:
            await bot.send_message(chat_id, self._translator(data)(key))
        except Exception as exc:  # the customer cannot be told; the policy holds all the same
            log.warning("could not tell chat %s %s: %s", chat_id, key, exc)
