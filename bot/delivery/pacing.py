"""Telegram's limits on the sending side: 30 messages/s in total, 1/s per chat, and about 20 a
minute into one group (aiolimiter).

A group (a negative chat id: the staff group and its topics) is its own lane: its chat limiters
run at `group_interval` (3 s: 20 a minute) instead of `chat_interval`, so its queue waits there,
holding no global slot, and the customers' private chats never wait behind it.

A send takes three leaky buckets in turn:
  1. the chat's gate: the chat had its previous turn at least one interval ago;
  2. the global bucket: one of the 30 slots of the second;
  3. the chat's send bucket, right before the call: even if the previous message of the chat
     waited longer for its global slot than this one, two sends to a chat are never closer than
     the interval as Telegram measures it (at arrival).
The gate comes first so that a message does not take a global slot and then sit on it waiting
for its chat, which would bunch sends together later.
"""

from __future__ import annotations

from collections import Counter

from aiolimiter import AsyncLimiter

PRUNE_AT = 5_000


class Pacer:
    def __init__(
        self,
        *,
        total_per_second: float = 30,
        chat_interval: float = 1.0,
        total_burst: int = 10,
        group_interval: float = 3.0,
    ) -> None:
        # Rate `total_per_second`, bucket of `total_burst`: Telegram (and the emulator) allow a burst
        # of 30, but they count at arrival, and the first requests of a burst arrive late (new
        # connections); a smaller bucket keeps that skew inside their allowance, for ~0.7 s of head start.
        burst = max(1, min(total_burst, int(total_per_second)))
        self.total = AsyncLimiter(burst, burst / total_per_second)
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

    async def turn(self, chat_id: int) -> None:
        """Wait until a message may be sent to `chat_id` now, and account for it."""
        self._waiting[chat_id] += 1
        try:
            await self._limiter(self._gates, chat_id).acquire()
            await self.total.acquire()
            await self._limiter(self._sends, chat_id).acquire()
        finally:
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:
                del self._waiting[chat_id]
