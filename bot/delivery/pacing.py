"""Telegram's limits on the sending side: 30 messages in any second in total, 1 a second per chat,
and about 20 a minute into one group.

A group (a negative chat id: the staff group and its topics) is its own lane: its chat limiters
run at `group_interval` (3 s: 20 a minute) instead of `chat_interval`, so its queue waits at its
gate, holding no global slot, and the customers' private chats never wait behind it.

Telegram counts at arrival, and (as an independent strict counter does) over a sliding second:
a leaky bucket with a burst, which this module used before, lets a burst and a full second's rate
into the same sliding second (600 replies to 600 chats drew 26 answers of 429). So:

  1. the chat's gate (aiolimiter, a bucket of one: consecutive turns of a chat at least
     `chat_interval` apart: exact spacing, which is what a sliding window of one is);
  2. the spacing (aiolimiter, a bucket of one): sends spread evenly at the paced rate, the limit
     less a margin (28.5 a second for Telegram's 30). A sliding window alone grants its whole
     count at once when it frees; the sends of such a burst leave over some milliseconds, enough
     for the next burst, granted exactly a second later, to overlap it at arrival;
  3. the global window (the `limits` library's moving window, in this process): at most the
     limit less the margin (28) in any sliding second, the guarantee whatever the timers do.
     With even sends, a send may arrive a send's spacing (~35 ms) late or early and the count
     at arrival still stays within 30;
  4. the chat's send bucket, right before the call: even if the previous message of the chat
     waited longer for its global slot than this one, two sends to a chat are never closer than
     the interval.
The gate comes first so that a message does not take a global slot and then sit on it waiting
for its chat, which would bunch sends together later.

The interface is `await Pacer(...).turn(chat_id)` before each call to Telegram.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter

from aiolimiter import AsyncLimiter
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

PRUNE_AT = 5_000
# The share of the global limit kept back for the skew between leaving and arriving.
MARGIN = 0.05
GLOBAL_KEY = "total"


def paced_limit(total_per_second: float, margin: float = MARGIN) -> int:
    """Sends allowed in any sliding second: the limit less the margin (at least one)."""
    return max(1, math.floor(total_per_second * (1 - margin)))


class Pacer:
    def __init__(
        self,
        *,
        total_per_second: float = 30,
        chat_interval: float = 1.0,
        margin: float = MARGIN,
        group_interval: float = 3.0,
    ) -> None:
        self.total_item = RateLimitItemPerSecond(paced_limit(total_per_second, margin), 1)
        # One key: the memory storage's timers are per key (see bot/throttle.py for why not per chat).
        self.total = MovingWindowRateLimiter(MemoryStorage())
        self.spacing = AsyncLimiter(1, 1 / (total_per_second * (1 - margin)))
        self.chat_interval = chat_interval
        self.group_interval = group_interval
        self._gates: dict[int, AsyncLimiter] = {}
        self._sends: dict[int, AsyncLimiter] = {}
        self._waiting: Counter[int] = Counter()  # turns in progress per chat: their limiters are kept

    def _limiter(self, table: dict[int, AsyncLimiter], chat_id: int) -> AsyncLimiter:
        limiter = table.get(chat_id)
        if limiter is None:
            if len(table) >= PRUNE_AT:
                # Chats whose bucket has drained hold no state worth keeping.
                for key in [k for k, v in table.items() if v.has_capacity() and k not in self._waiting]:
                    del table[key]
            interval = self.group_interval if chat_id < 0 else self.chat_interval
            limiter = table[chat_id] = AsyncLimiter(1, interval)
        return limiter

    async def _global_slot(self) -> None:
        """Wait for a slot of the sliding second; the window tells when its oldest send leaves it."""
        while not await self.total.hit(self.total_item, GLOBAL_KEY):
            stats = await self.total.get_window_stats(self.total_item, GLOBAL_KEY)
            await asyncio.sleep(max(0.001, stats.reset_time - time.time()))

    async def turn(self, chat_id: int) -> None:
        """Wait until a message may be sent to `chat_id` now, and account for it."""
        self._waiting[chat_id] += 1
        try:
            await self._limiter(self._gates, chat_id).acquire()
            await self.spacing.acquire()
            await self._global_slot()
            await self._limiter(self._sends, chat_id).acquire()
        finally:
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:
                del self._waiting[chat_id]
