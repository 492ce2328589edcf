"""What a web page's view gets: the request's database session, who is signed in, the language,
the translator, the formats and the CSRF token (set by backoffice/web/middleware.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.enums import Role
from shared.formatting import Formats
from shared.i18n import Translator
from shared.settings import Settings
from shared.staff.models import StaffUser


@dataclass
class WebContext:
    session: AsyncSession
    settings: Settings
    t: Translator
    language: str
    fmt: Formats
    user: StaffUser | None = None
    session_id: str | None = None
    csrf_token: str = ""
    htmx: bool = False
    # Set by a view: extra response headers (HX-Trigger, ...) the middleware adds to its answer.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        assert self.user is not None, "a public page has no actor"
        return Actor.staff(self.user.id)

    async def rollback(self) -> None:
        """Drop what a refused step wrote; the signed-in user is read again for the page's header."""
        await self.session.rollback()
        if self.user is not None:
            await self.session.refresh(self.user)

    def has_role(self, role: Role) -> bool:
        return self.user is not None and Role(self.user.role).at_least(role)


WEB = web.RequestKey("web", WebContext)


def wctx(request: web.Request) -> WebContext:
    return request[WEB]
