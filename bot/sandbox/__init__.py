"""Local Telegram Bot API emulator for tests, benchmarks and the developer sandbox."""

from bot.sandbox.chats import SentMessage
from bot.sandbox.errors import ApiError
from bot.sandbox.faults import Fault, FaultInjector
from bot.sandbox.flood import FloodControl, FloodLimits
from bot.sandbox.server import BotApiEmulator, serve_sandbox
from bot.sandbox.users import UserDriver

__all__ = [
    "ApiError",
    "BotApiEmulator",
    "Fault",
    "FaultInjector",
    "FloodControl",
    "FloodLimits",
    "SentMessage",
    "UserDriver",
    "serve_sandbox",
]
