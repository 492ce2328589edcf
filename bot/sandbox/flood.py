"""Flood control modelled on Telegram's documented limits.

Telegram asks bots to stay under ~30 messages/s overall and ~1 message/s per chat, and lets a
bot post about 20 messages a minute in one group.  The server side is modelled with GCRA (a
leaky bucket expressed as a "theoretical arrival time"), not with a sliding log: a client paced
by a leaky bucket of its own (aiolimiter) never gets a 429 here, while a burst above the bucket
size does.  ``tolerance`` forgives a request that arrives a little early, so event-loop jitter of
a well-paced client is not punished; systematic over-rate still accumulates debt and gets
rejected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FloodLimits:
    """Limits per ``window`` seconds; ``*_burst`` is the bucket size (requests allowed at once)."""

    global_limit: int = 30
    chat_limit: int = 1
    window: float = 1.0
    global_burst: int | None = None  # defaults to global_limit
    chat_burst: int | None = None  # defaults to chat_limit
    tolerance: float = 0.05  # seconds a request may arrive early without being rejected
    group_limit: int = 20  # new messages per group_window in one group (supergroup), on top of chat_limit
    group_window: float = 60.0
    group_burst: int | None = None  # defaults to group_limit


@dataclass(slots=True)
class _Bucket:
    interval: float
    burst: int
    tat: float = 0.0  # theoretical arrival time of the next conforming request

    def wait_needed(self, now: float, tolerance: float) -> float:
        """Seconds the caller would have to wait; 0 when the request conforms."""
        tat = max(self.tat, now)
        allowance = (self.burst - 1) * self.interval + tolerance
        return max(0.0, tat - now - allowance)

    def consume(self, now: float) -> None:
        self.tat = max(self.tat, now) + self.interval


@dataclass
class FloodControl:
    limits: FloodLimits = field(default_factory=FloodLimits)
    enabled: bool = False
    clock: Callable[[], float] = time.monotonic
    rejected: int = 0
    _global: _Bucket | None = None
    _chats: dict[int | str, _Bucket] = field(default_factory=dict)
    _groups: dict[int | str, _Bucket] = field(default_factory=dict)

    def reset(self) -> None:
        self._global = None
        self._chats.clear()
        self._groups.clear()

    def _global_bucket(self) -> _Bucket:
        if self._global is None:
            lim = self.limits
            self._global = _Bucket(lim.window / lim.global_limit, lim.global_burst or lim.global_limit)
        return self._global

    def _chat_bucket(self, chat_id: int | str) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            lim = self.limits
            bucket = _Bucket(lim.window / lim.chat_limit, lim.chat_burst or lim.chat_limit)
            self._chats[chat_id] = bucket
        return bucket

    def _group_bucket(self, chat_id: int | str) -> _Bucket:
        bucket = self._groups.get(chat_id)
        if bucket is None:
            lim = self.limits
            bucket = _Bucket(lim.group_window / lim.group_limit, lim.group_burst or lim.group_limit)
            self._groups[chat_id] = bucket
        return bucket

    def check(self, chat_id: int | str | None, *, counts_global: bool = True, group: bool = False) -> int | None:
        """Account one message; returns ``retry_after`` seconds when it must be rejected.

        ``counts_global``: a new message (an edit counts toward its chat's limit only);
        ``group``: the chat is a group, where new messages also count toward the per-minute limit.
        All buckets are checked before any is charged, so a rejected request does not
        eat into the budget (Telegram does not count refused messages either).
        """
        if not self.enabled:
            return None
        now = self.clock()
        buckets: list[_Bucket] = []
        if counts_global:
            buckets.append(self._global_bucket())
        if chat_id is not None:
            buckets.append(self._chat_bucket(chat_id))
            if group and counts_global:
                buckets.append(self._group_bucket(chat_id))
        wait = max((b.wait_needed(now, self.limits.tolerance) for b in buckets), default=0.0)
        if wait > 0:
            self.rejected += 1
            # Telegram always reports whole seconds, at least one.
            return max(1, math.ceil(wait))
        for b in buckets:
            b.consume(now)
        return None
