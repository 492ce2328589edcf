"""The event loop the desk's processes run on.

uvloop (libuv) when it is installed: the back-office's HTTP server and asyncpg spend much of a
request in the event loop and socket calls, and uvloop does them in C (the claims list under load,
bench/api_load.py, answers about twice as many requests per CPU second). The standard loop
otherwise (e.g. on Windows, where uvloop does not exist).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the desk's event loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
