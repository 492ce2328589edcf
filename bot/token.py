"""A bot token Telegram refuses: the one line that names BOT_TOKEN (exit 2), as for every setting."""

from __future__ import annotations

from aiogram.exceptions import TelegramAPIError

from shared.runtime import StartupError


def refused_token(exc: TelegramAPIError) -> StartupError:
    """Telegram answered 401 (no such token) or 404 (a token of a deleted bot, a wrong API path)."""
    return StartupError(f"BOT_TOKEN: Telegram refused the token ({exc.message}); check it with @BotFather")
