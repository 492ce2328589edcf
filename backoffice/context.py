"""The API request's context: its one database session, the settings, the caller's translator and,
once signed in (backoffice/auth.py), the staff user. The database middleware (backoffice/app.py)
opens it; views read it with `ctx(request)`."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.i18n import Translator
from shared.settings import Settings
from shared.staff.models import StaffUser


@dataclass
class RequestContext:
    session: AsyncSession
    settings: Settings
    t: Translator
    language: str
    user: StaffUser | None = None
    via: str | None = None  # "session" or "token"
    session_id: str | None = None

    @property
    def actor(self) -> Actor:
        assert self.user is not None, "route without a role has no actor"
        return Actor.staff(self.user.id)

    @property
    def user_id(self) -> int:
        assert self.user is not None
        return self.user.id


CTX = web.RequestKey("ctx", RequestContext)


def ctx(request: web.Request) -> RequestContext:
    return request[CTX]
