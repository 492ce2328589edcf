"""The back-office REST API: ONE route table, built from the modules of this package.

Convention (every resource module follows it, including the reports and exchange modules):

* A module `backoffice/api/<resource>.py` exposes `routes: list[ApiRoute]`.
* An `ApiRoute` carries everything the app, the docs and the tests need to know about an endpoint:
  `method`, `path` (the full path in OpenAPI form, e.g. `/api/v1/claims/{claim_id}`; path
  parameters named `*_id` are integers), `handler` (`async def view(request) -> web.StreamResponse`),
  `role` (the minimal `shared.enums.Role`, or `None` for a public route), and the pydantic models
  used for the OpenAPI document: `body` (the JSON request body), `query` (query parameters, one
  field per parameter; `list[...]` fields repeat), `response` (the JSON response) with `status`;
  `read_only` for a route answering with one SELECT (no transaction: two round trips fewer);
  `content_type` for a non-JSON response (a file, CSV, Prometheus text) and `errors` for the
  problem statuses the route may answer besides 401/403/422; `request_types` for a request body
  that is not JSON (an upload: `("multipart/form-data",)`; a browser's cookie-signed request must
  send one of them, see backoffice/cross_site.py). A route answering in several formats
  (CSV or XLSX, JSON or SVG) gives a tuple: `content_type=("application/json", "image/svg+xml")`;
  "application/json" in it is documented with `response`, the others as text or binary.
* Views are thin: parse with `backoffice.api.http` (`read_body`, `read_query`, `path_id`), call one
  service of `shared/` with `ctx(request).session` and `ctx(request).actor`, render with `reply`.
  The middlewares (backoffice/app.py) open the one database session of the request, sign the user
  in, check `role` before the view runs, commit once after it and map errors to problem+json.
* To add a module, list it in `MODULES` below. `backoffice.api.reports` and
  `backoffice.api.exchange` are picked up automatically once their files exist (`OPTIONAL`).

The authorisation-matrix test (tests/backoffice/test_authz_matrix.py) is generated from
`all_routes()`, so a new route is checked for anonymous/operator/manager/admin without more work.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel

from shared.enums import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    handler: Handler
    role: Role | None
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    content_type: str | tuple[str, ...] | None = None
    errors: tuple[int, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)
    headers: tuple[str, ...] = ()  # request headers the route reads (documented), e.g. If-Match
    # A route that only reads, in ONE statement after signing the caller in: its session runs
    # without a transaction (no BEGIN and COMMIT round trips; each statement is its own snapshot).
    read_only: bool = False
    # The media types its request body may have (checked for cookie-signed requests).
    request_types: tuple[str, ...] = ("application/json",)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def allows(self, role: Role | str | None) -> bool:
        if self.role is None:
            return True
        if role is None:
            return False
        return Role(role).at_least(self.role)


MODULES: tuple[str, ...] = (
    "backoffice.api.auth",
    "backoffice.api.claims",
    "backoffice.api.interactions",
    "backoffice.api.plan",
    "backoffice.api.catalogs",
    "backoffice.api.customers",
    "backoffice.api.users",
    "backoffice.api.system",
)
# Owned by the reports/exchange work; imported when present (an import error in them still fails loudly).
OPTIONAL: tuple[str, ...] = ("backoffice.api.reports", "backoffice.api.exchange")


def all_routes() -> list[ApiRoute]:
    routes: list[ApiRoute] = []
    names = list(MODULES) + [m for m in OPTIONAL if importlib.util.find_spec(m) is not None]
    for name in names:
        routes.extend(importlib.import_module(name).routes)
    seen: set[tuple[str, str]] = set()
    for route in routes:
        key = (route.method, route.path)
        if key in seen:
            raise RuntimeError(f"route {route.method} {route.path} is defined twice")
        seen.add(key)
    return routes
