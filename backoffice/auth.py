"""Who is calling: the session cookie or a Bearer token, then the route's minimal role.
Failed sign-ins are throttled per login and per address (moving windows: in memory, or in Redis)."""

from __future__ import annotations

import math
import time

from aiohttp import web
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from backoffice.api import ApiRoute
from backoffice.api.http import RequestContext
from backoffice.problems import ApiProblem
from shared.ratelimit import redis_limits_storage
from shared.settings import Settings
from shared.staff.accounts import user_for_api_token, user_for_session

SESSION_COOKIE = "claimdesk_session"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="claimdesk"'}


class LoginThrottle:
    """Sign-in attempts: 5 per login and 20 per address in 15 minutes by default.

    Counted in this process by default; with REDIS_URL (`for_settings`) the windows live in Redis,
    so several back-office processes behind one address share them instead of each allowing 5."""

    def __init__(
        self, per_login: str = "5/15 minutes", per_address: str = "20/15 minutes", *, storage: Storage | None = None
    ) -> None:
        self.per_login: RateLimitItem = parse(per_login)
        self.per_address: RateLimitItem = parse(per_address)
        self.limiter = MovingWindowRateLimiter(storage if storage is not None else MemoryStorage())

    @classmethod
    def for_settings(cls, settings: Settings) -> LoginThrottle:
        if settings.redis_url:
            return cls(storage=redis_limits_storage(settings.redis_url, key_prefix="claimdesk-login"))
        return cls()

    async def charge(self, login: str, address: str) -> int | None:
        """Count this attempt against the login's and the address's windows BEFORE the password is
        checked: checking first and counting the failure afterwards let parallel requests all pass
        the check while the slow verifications ran (30 at once, 30 tries). `hit` takes a slot
        atomically or refuses; refused -> the seconds to wait. The address is not charged for a
        login already blocked."""
        for item, ids in ((self.per_login, ("login", login)), (self.per_address, ("addr", address))):
            if not await self.limiter.hit(item, *ids):
                stats = await self.limiter.get_window_stats(item, *ids)
                return max(1, math.ceil(stats.reset_time - time.time()))
        return None

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
