"""Who is calling: the session cookie or a Bearer token, then the route's minimal role.
Failed sign-ins are throttled per login and per address (moving windows kept in memory)."""

from __future__ import annotations

import math
import time

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from backoffice.api import ApiRoute
from backoffice.api.http import RequestContext
from backoffice.problems import ApiProblem
from shared.staff.accounts import user_for_api_token, user_for_session

SESSION_COOKIE = "claimdesk_session"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="claimdesk"'}


class LoginThrottle:
    """Failed sign-ins only count: 5 per login and 20 per address in 15 minutes by default."""

    def __init__(self, per_login: str = "5/15 minutes", per_address: str = "20/15 minutes") -> None:
        self.per_login: RateLimitItem = parse(per_login)
        self.per_address: RateLimitItem = parse(per_address)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def retry_after(self, login: str, address: str) -> int | None:
        """Seconds to wait when either window is full, else None."""
        waits = []
        for item, key in ((self.per_login, ("login", login)), (self.per_address, ("addr", address))):
            if not await self.limiter.test(item, *key):
                stats = await self.limiter.get_window_stats(item, *key)
                waits.append(max(1, math.ceil(stats.reset_time - time.time())))
        return max(waits) if waits else None

    async def failed(self, login: str, address: str) -> None:
        await self.limiter.hit(self.per_login, "login", login)
        await self.limiter.hit(self.per_address, "addr", address)

    async def succeeded(self, login: str) -> None:
        await self.limiter.clear(self.per_login, "login", login)


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def authenticate(request: web.Request, context: RequestContext, route: ApiRoute) -> None:
    """Sign the caller in and check the route's role; raises 401/403 as problems."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiProblem(401, "unauthorized", "api.problem.unauthorized", headers=WWW_AUTHENTICATE)
        context.user = await user_for_api_token(context.session, token=token.strip())
        context.via = "token"
    else:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            context.user = await user_for_session(context.session, session_id=session_id)
            context.via = "session"
            context.session_id = session_id
    if route.role is None:
        return
    if context.user is None:
        raise ApiProblem(401, "unauthorized", "api.problem.unauthorized", headers=WWW_AUTHENTICATE)
    if not route.allows(context.user.role):
        raise ApiProblem(403, "forbidden", "api.problem.forbidden", role=context.user.role, needed=route.role.value)
