"""The bot's outermost middleware of ours: every line logged while an update is handled carries
its id (`shared.logs.UPDATE_ID`), and each update is counted by kind and outcome
(`shared.metrics.UPDATES`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.errors import RedeliverUpdate
from shared.logs import update_context
from shared.metrics import UPDATES


class ObserveUpdateMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update = cast(Update, event)
        kind = update.event_type  # aiogram's name of the update's one field: message, callback_query, ...
        with update_context(update.update_id):
            try:
                result = await handler(event, data)
            except RedeliverUpdate:
                UPDATES.labels(kind, "redelivered").inc()
                raise
            except Exception:
                UPDATES.labels(kind, "failed").inc()
                raise
        UPDATES.labels(kind, "handled").inc()
        return result
