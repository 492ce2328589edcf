"""Where the emulator's id sequences start, so that update ids and message ids never repeat
across restarts.

Telegram never hands out an update id twice (not within a day, at least), nor a message id twice
in one chat; the desk relies on both to recognise redeliveries. The emulator keeps nothing on disk,
so a restarted emulator cannot go on where the last one stopped. Instead every sequence (a bot's
update ids, each chat's message ids) starts at the clock: the time in microseconds since the Unix
epoch when the sequence is created, then counts up by one. A run would reach the next run's
starting point only by handing out more than a million ids a second for its whole life, which this
emulator cannot do. What can still repeat an id is a clock set back between two runs.

The numbers are large (16 digits) but stay below 2**53, so JSON readers in any language (the
sandbox page's JavaScript included) keep them exact.
"""

from __future__ import annotations

import time


def clock_start() -> int:
    """The first id of a sequence created now."""
    return time.time_ns() // 1_000
