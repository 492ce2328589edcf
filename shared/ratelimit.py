"""Rate-limit windows shared by every process of an installation: in Redis when REDIS_URL is set.

Both the bot's reply throttle and the back-office's sign-in throttle count in windows that must
hold across processes once the desk is scaled out; without Redis each process counts alone.
"""

from __future__ import annotations

from limits.aio.storage import RedisStorage


def redis_limits_storage(redis_url: str, *, key_prefix: str) -> RedisStorage:
    """`limits`' async Redis storage over redis-py (its default client, `coredis`, is not a
    dependency; redis-py is, and aiogram's RedisStorage uses it too)."""
    uri = redis_url.replace("redis://", "async+redis://", 1).replace("rediss://", "async+rediss://", 1)
    return RedisStorage(uri, implementation="redispy", key_prefix=key_prefix)
