"""The throttle of `/link CODE` attempts, per Telegram account: codes cannot be guessed.

A ladder of fixed windows (`limits`), like the back-office's sign-in throttle: a few tries in ten
minutes, more in a day. Every attempt counts, a right one too (a person links once, and the
count must not tell a guesser which try hit). In this process by default; with REDIS_URL in Redis,
shared by every bot process.
"""

from __future__ import annotations

import math
import time

from limits import parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from shared.ratelimit import redis_limits_storage

PER_TELEGRAM_USER = "5/10 minutes;20/day"


class LinkAttempts:
    def __init__(self, limits: str = PER_TELEGRAM_USER, *, storage: Storage | None = None) -> None:
        self.items = parse_many(limits)
        self.limiter = FixedWindowRateLimiter(storage if storage is not None else MemoryStorage())

    @classmethod
    def from_settings(cls, redis_url: str | None) -> LinkAttempts:
        if redis_url:
            return cls(storage=redis_limits_storage(redis_url, key_prefix="claimdesk-link"))
        return cls()

    async def charge(self, telegram_user_id: int) -> int | None:
        """Count one attempt; None if it may go on, else the seconds until the next one may."""
        for item in self.items:
            if not await self.limiter.hit(item, "link", str(telegram_user_id)):
                stats = await self.limiter.get_window_stats(item, "link", str(telegram_user_id))
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None
