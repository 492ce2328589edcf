"""The staff pages' route table, built like the API's (backoffice/api/__init__.py).

* A module `backoffice/web/views/<page>.py` exposes `routes: list[WebRoute]`; list it in `MODULES`.
* `role` is the minimal role (None: a public page, e.g. sign-in); the middleware signs the user in
  and checks it before the view runs, and checks the CSRF token of every unsafe request.
* `csrf="signin"`: the sign-in form, checked against a cookie of its own (no session yet).
* `streaming=True`: a long answer (server-sent events): the request's database session is closed
  once the user is signed in, before the view runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from shared.enums import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class WebRoute:
    method: str
    path: str
    handler: Handler
    role: Role | None = Role.OPERATOR
    csrf: Literal["session", "signin"] = "session"
    streaming: bool = False


MODULES: tuple[str, ...] = (
    "backoffice.web.views.signin",
    "backoffice.web.views.preferences",
    "backoffice.web.views.profile",
    "backoffice.web.views.queue",
    "backoffice.web.views.reports",
    "backoffice.web.views.catalogs",
    "backoffice.web.views.imports",
    "backoffice.web.views.users",
    "backoffice.web.views.undelivered",
    "backoffice.web.views.new_claim",
    "backoffice.web.views.events",
    "backoffice.web.views.claim",
    "backoffice.web.views.customer",
    "backoffice.web.views.replies",
)


def all_web_routes() -> list[WebRoute]:
    routes: list[WebRoute] = []
    for name in MODULES:
        routes.extend(importlib.import_module(name).routes)
    return routes
