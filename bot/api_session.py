"""Bot API requests as JSON bodies.

aiogram's `AiohttpSession` sends every method as a multipart form, which costs several times the
CPU of a JSON body on both ends (bench/bot_ingest.py: the bot's replies in polling mode, the
delivery worker's messages). Telegram takes either; a method that uploads a file still goes as
aiogram's form, the only way to carry it.
"""

from __future__ import annotations

import contextlib
from http import HTTPStatus
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError


def json_params(bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
    """The method's parameters as JSON values (as aiogram prepares them for its form), or None
    when it uploads a file."""
    files: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for key, value in method.model_dump(warnings=False).items():
        prepared = bot.session.prepare_value(value, bot=bot, files=files, _dumps_json=False)
        if prepared is not None:
            params[key] = prepared
    return None if files else params


class JsonSession(AiohttpSession):
    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        params = json_params(bot, method)
        if params is None:
            return await super().make_request(bot, method, timeout)
        status, content = await self._post(bot, method, params, timeout)
        response = self.check_response(bot=bot, method=method, status_code=status, content=content)
        return cast(TelegramType, response.result)

    async def get_updates(self, bot: Bot, method: GetUpdates, timeout: int | None = None) -> list[Any]:
        """getUpdates' result as Telegram sent it (JSON objects): the caller decides which
        updates are worth aiogram's parse (`bot.polling`). Errors raise as aiogram raises them."""
        params = json_params(bot, method)
        assert params is not None
        status, content = await self._post(bot, method, params, timeout)
        with contextlib.suppress(ValueError, TypeError):
            body = self.json_loads(content)
            if HTTPStatus.OK <= status <= HTTPStatus.IM_USED and body.get("ok") and isinstance(body["result"], list):
                return cast(list[Any], body["result"])
        self.check_response(bot=bot, method=method, status_code=status, content=content)  # raises
        raise ClientDecodeError("getUpdates: no list of updates", ValueError(content[:200]), content)

    async def _post(
        self, bot: Bot, method: TelegramMethod[Any], params: dict[str, Any], timeout: int | None
    ) -> tuple[int, str]:
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        # As aiogram's own make_request, with a JSON body instead of the form.
        try:
            async with session.post(
                url,
                data=self.json_dumps(params),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout if timeout is None else timeout,
            ) as resp:
                return resp.status, await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e


def api_session(api_base: str, **kwargs: Any) -> JsonSession:
    return JsonSession(api=TelegramAPIServer.from_base(api_base), **kwargs)
