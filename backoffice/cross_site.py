"""Cross-site request refusal for the JSON API (the routes of `backoffice.api`).

A browser attaches the session cookie to any request it sends to the back-office, whichever page
makes it. So an unsafe request (POST, PUT, PATCH, DELETE) that a browser could send with that
cookie must prove it comes from the back-office's own pages:

* its body is of the route's type: `application/json` (a page on another site cannot send that
  without a CORS preflight, which the back-office never grants), or `multipart/form-data` for an
  upload route (`ApiRoute.request_types`); a request without a body may send any Content-Type;
* it names its origin, and that origin is the back-office's own: the `Origin` header equals
  BACKOFFICE_PUBLIC_URL's scheme://host[:port] when that is set, else the request's own; without
  `Origin`, `Sec-Fetch-Site` must say `same-origin` (or `none`: typed by the user).

Every browser in use sends `Origin` with such requests (and `Sec-Fetch-Site` over HTTPS), so a
request with NEITHER comes from a program, not a page: it is refused as well. Programs sign in
with an API token (`Authorization: Bearer`), which a page on another site cannot attach, so a
request carrying `Authorization` is not checked here at all; a program that does use the cookie
sends `Origin: <the back-office's URL>` itself.

Checked: requests with the session cookie, and the sign-in route even without one (else another
site's page could sign a visitor in as the attacker: login CSRF). An anonymous request to any
other route is refused by the role check anyway (401). Routes outside the API's route table (the
staff web UI, with its own CSRF tokens) are not checked here.
"""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from backoffice.api import ApiRoute
from backoffice.auth import SESSION_COOKIE
from backoffice.problems import ApiProblem
from shared.settings import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})


def own_origin(request: web.Request, settings: Settings) -> str:
    """The origin the back-office's pages are served from: BACKOFFICE_PUBLIC_URL's, else the
    request's (behind a proxy that terminates TLS the request's scheme is http: set the URL)."""
    if settings.backoffice_public_url:
        return str(URL(settings.backoffice_public_url).origin())
    return str(URL.build(scheme=request.scheme, authority=request.host).origin())


def _origin_of(value: str) -> str | None:
    try:
        url = URL(value.strip())
        return str(url.origin()) if url.is_absolute() and url.scheme in ("http", "https") else None
    except ValueError:  # "null" (sandboxed frames, file: pages) and malformed values
        return None


def needs_check(request: web.Request, route: ApiRoute) -> bool:
    if request.method not in UNSAFE_METHODS or "Authorization" in request.headers:
        return False
    return route.role is None or SESSION_COOKIE in request.cookies


def check_same_origin(request: web.Request, route: ApiRoute, settings: Settings) -> None:
    """Raise a 403 problem when an unsafe request a browser could have sent with the staff member's
    cookie does not come from the back-office's own pages."""
    if not needs_check(request, route):
        return
    # A body-less request carries nothing to parse, whatever its Content-Type says (clients send
    # one anyway); the origin decides alone.
    if request.body_exists and request.content_type not in route.request_types:
        raise ApiProblem(
            403,
            "cross_site_content_type",
            "api.problem.cross_site_content_type",
            expected=" / ".join(route.request_types),
        )
    origin = request.headers.get("Origin")
    if origin is not None:
        if _origin_of(origin) != own_origin(request, settings):
            raise ApiProblem(403, "cross_site_origin", "api.problem.cross_site_origin")
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is None:
        raise ApiProblem(403, "cross_site_origin", "api.problem.cross_site_no_origin")
    if fetch_site.strip().lower() not in SAME_ORIGIN_FETCHES:
        raise ApiProblem(403, "cross_site_origin", "api.problem.cross_site_origin")
