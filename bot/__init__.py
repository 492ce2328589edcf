"""The customers' Telegram bot.

Importing any `bot` module first imports aiogram through `bot.lean_import` (schemas built on
first use instead of all ~900 at import: seconds of CPU and ~100 MB less per process). This is
the one place every entry point (bot, delivery worker, `claimdesk run`, tests) passes through.
"""

from bot import lean_import

lean_import.install()
