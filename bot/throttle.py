"""The throttle of replies a customer did not ask for (acknowledgements of stored messages,
"try again", apologies): a customer sending 100 messages a second has all of them stored and
gets only a few answers."""

from __future__ import annotations

import time
from collections import deque

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter

from shared.ratelimit import redis_limits_storage


class ReplyThrottle:
    """At most `limit` unsolicited replies of a kind per chat per `seconds` (moving window).

    In this process by default; with REDIS_URL the window lives in Redis (the `limits` library)
    and is shared by every bot process. The in-process window is a deque per chat rather than
    `limits`' async memory storage, which expires keys through a thread per key and, with
    hundreds of chats, spent most of the bot's CPU on thread hand-offs (bench/bot_ingest.py).
    """

    def __init__(self, limit: int = 2, seconds: int = 5, storage: Storage | None = None) -> None:
        self.limit = limit
        self.seconds = seconds
        self.item = RateLimitItemPerSecond(limit, seconds)
        self.limiter = MovingWindowRateLimiter(storage) if storage is not None else None
        self._hits: dict[str, deque[float]] = {}

    async def allow(self, chat_id: int, kind: str = "ack") -> bool:
        if self.limiter is not None:
            return await self.limiter.hit(self.item, kind, str(chat_id))
        now = time.monotonic()
        key = f"{kind}:{chat_id}"
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) > 10_000:
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.seconds]:
            del self._hits[key]

    @classmethod
    def from_settings(cls, redis_url: str | None) -> ReplyThrottle:
        if redis_url:
            return cls(storage=redis_limits_storage(redis_url, key_prefix="claimdesk-bot"))
        return cls()
