"""Delivery pacing as a strict counter sees it (issue 13, fix 9): never more than the limit in any
sliding second, never two sends to a chat closer than the interval. Measured at a tenth of
Telegram's scale in time (300 sends a second), so the test takes about three seconds."""

from __future__ import annotations

import asyncio
import bisect
import time

from bot.delivery.pacing import Pacer

RATE = 300


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The strict sliding-window count: the most sends in any `window` seconds."""
    times = sorted(times)
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


async def test_no_sliding_second_holds_more_than_the_limit() -> None:
    pacer = Pacer(total_per_second=RATE, chat_interval=0.5)
    sent: list[float] = []

    async def send(chat_id: int) -> None:
        await pacer.turn(chat_id)
        sent.append(time.monotonic())

    await asyncio.gather(*(send(chat) for chat in range(2 * RATE + RATE // 2)))
    assert most_in_any_window(sent) <= RATE * 0.95, most_in_any_window(sent)


async def test_one_chat_never_twice_within_the_interval() -> None:
    pacer = Pacer(total_per_second=RATE, chat_interval=0.1)
    sent: list[float] = []

    async def send() -> None:
        await pacer.turn(7)
        sent.append(time.monotonic())

    await asyncio.gather(*(send() for _ in range(12)))
    gaps = [b - a for a, b in zip(sorted(sent), sorted(sent)[1:], strict=False)]
    assert min(gaps) >= 0.1 * 0.98, gaps
