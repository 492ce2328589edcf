"""Who is calling: the session cookie or a Bearer token, then the route's minimal role.
Failed sign-ins are throttled per (login, address) and per address (in memory, or in Redis)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from aiohttp import web
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.context import RequestContext
from backoffice.problems import ApiProblem
from shared.enums import Role
from shared.ratelimit import redis_limits_storage
from shared.settings import Settings
from shared.staff.accounts import signed_in_from, user_for_api_token, user_for_session
from shared.staff.models import StaffUser
from shared.staff.service import authenticate as check_password

SESSION_COOKIE = "claimdesk_session"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="claimdesk"'}

# Ladders of windows: each longer window allows more failures, so the wait grows with them
# (5 wrong passwords: up to a minute; 10: up to 15 minutes; 20: an hour; 50: a day).
PER_LOGIN_ADDRESS = "5/minute;10/15 minutes;20/hour;50/day"
PER_ADDRESS = "20/15 minutes;50/hour;200/day"


@dataclass
class SignInAttempt:
    """The windows one sign-in attempt was charged to; `wait` (seconds) when it was refused."""

    login: str
    address: str
    charged: list[tuple[RateLimitItem, tuple[str, ...]]] = field(default_factory=list)
    wait: int | None = None


class LoginThrottle:
    """Failed sign-ins, counted per (login, address) and per address; a successful one costs nothing.

    Each count is a ladder of fixed windows (`PER_LOGIN_ADDRESS`, `PER_ADDRESS`): the first
    window to fill refuses further attempts until it ends, and the longer windows allow only a few
    more after it, so the waits grow. A guesser elsewhere cannot lock an account: an attempt is
    counted under its own address. A guesser behind the SAME address (an office, a proxy) fills
    the address's ladder, but a login signing in from an address it signed in from before (a known
    address, `shared.staff.accounts.signed_in_from`) is counted in its own (login, address)
    ladder only, so its owner gets in while strangers from that address are refused.

    Race-safe: an attempt is charged BEFORE the (slow) password check, so parallel attempts cannot
    all pass while the verifications run (30 at once, 30 tries); a successful one, or one that
    never got to the check, is refunded afterwards. Counted in this process by default; with
    REDIS_URL (`for_settings`) in Redis, shared by every back-office process."""

    def __init__(
        self,
        per_login_address: str = PER_LOGIN_ADDRESS,
        per_address: str = PER_ADDRESS,
        *,
        storage: Storage | None = None,
    ) -> None:
        self.per_login_address = parse_many(per_login_address)
        self.per_address = parse_many(per_address)
        self.storage = storage if storage is not None else MemoryStorage()
        self.limiter = FixedWindowRateLimiter(self.storage)

    @classmethod
    def for_settings(cls, settings: Settings) -> LoginThrottle:
        if settings.redis_url:
            return cls(storage=redis_limits_storage(settings.redis_url, key_prefix="claimdesk-login"))
        return cls()

    async def charge(self, login: str, address: str, *, known: bool) -> SignInAttempt:
        """Count this attempt as a failure in every window of its ladders, before the password is
        checked; the first full window refuses it (and nothing of it stays counted)."""
        attempt = SignInAttempt(login, address)
        windows = [(item, ("pair", login, address)) for item in self.per_login_address]
        if not known:
            windows += [(item, ("address", address)) for item in self.per_address]
        for item, ids in windows:
            attempt.charged.append((item, ids))
            # A fixed window's hit adds to the count even when it refuses: refunded below.
            if not await self.limiter.hit(item, *ids):
                stats = await self.limiter.get_window_stats(item, *ids)
                await self.refund(attempt)
                attempt.wait = max(1, math.ceil(stats.reset_time - time.time()))
                break
        return attempt

    async def refund(self, attempt: SignInAttempt) -> None:
        """Take back what `charge` counted (the attempt did not fail on its password)."""
        for item, ids in attempt.charged:
            key = item.key_for(*ids)
            # Not below zero: a window that ended meanwhile must not start the next one at -1.
            if await self.storage.get(key) > 0:
                await self.storage.incr(key, item.get_expiry(), amount=-1)
        attempt.charged.clear()

    async def succeeded(self, attempt: SignInAttempt) -> None:
        """The right password: the attempt is refunded and the login's failures at this address are
        forgotten (its owner is here); the address keeps the failures of others."""
        await self.refund(attempt)
        for item in self.per_login_address:
            await self.limiter.clear(item, "pair", attempt.login, attempt.address)


@dataclass
class SignIn:
    """The outcome of a sign-in attempt: the user, or None for a wrong login or password; `wait`
    (seconds) when the throttle refused the attempt before anything was checked."""

    user: StaffUser | None
    wait: int | None = None


async def sign_in(session: AsyncSession, throttle: LoginThrottle, *, login: str, password: str, address: str) -> SignIn:
    """Check a login and password under the throttle: the one way to sign in (the API's route,
    and any sign-in form, call this and only render its outcome)."""
    key = login.strip().lower()
    known = await signed_in_from(session, login=key, address=address)
    attempt = await throttle.charge(key, address, known=known)
    if attempt.wait is not None:
        return SignIn(None, attempt.wait)
    try:
        user = await check_password(session, login=login, password=password)
    except BaseException:
        await throttle.refund(attempt)  # the database failed, not the password
        raise
    if user is not None:
        await throttle.succeeded(attempt)
    return SignIn(user)  # a failure stays counted


def client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def authenticate(request: web.Request, context: RequestContext, role: Role | None) -> None:
    """Sign the caller in and check that they have at least `role` (None: a public route); raises
    401/403 as problems."""
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
    if role is None:
        return
    if context.user is None:
        raise ApiProblem(401, "unauthorized", "api.problem.unauthorized", headers=WWW_AUTHENTICATE)
    if not Role(context.user.role).at_least(role):
        raise ApiProblem(403, "forbidden", "api.problem.forbidden", role=context.user.role, needed=role.value)
