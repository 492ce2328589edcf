"""The staff pages' middleware: one database session (one transaction) per request, the user signed
in from the session cookie, the route's role checked, the CSRF token of every unsafe request
checked, domain refusals and failures rendered as pages (or htmx fragments), never a JSON problem
or a stack trace. Only the web routes (backoffice/web/routes.py) pass through it; the JSON API has
its own middlewares (backoffice/app.py).

Signed out (or the session expired): a page goes to the sign-in page with `next` = where the user
was; an htmx request is told to go there with `HX-Redirect` (the page it was made from)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from backoffice.auth import SESSION_COOKIE
from backoffice.keys import db_key, settings_key
from backoffice.problems import ApiProblem
from backoffice.web import csrf
from backoffice.web.context import WEB, WebContext
from backoffice.web.errors import error_text
from backoffice.web.render import local_path, render, signin_url
from backoffice.web.routes import WebRoute
from shared.errors import DomainError
from shared.formatting import Formats
from shared.i18n import get_translator, normalize_language
from shared.staff.accounts import signed_in_session

log = logging.getLogger(__name__)

WEB_ROUTE = web.RequestKey("web_route", WebRoute)
web_routes_key = web.AppKey("web_routes", dict)


def web_route_of(request: web.Request) -> WebRoute | None:
    match = request.match_info
    resource = match.route.resource if match.route is not None else None
    if resource is None:
        return None
    return request.app[web_routes_key].get((request.method, resource.canonical))


def browser_language(request: web.Request, default: str) -> str:
    header = request.headers.get("Accept-Language", "")
    tag = header.split(",")[0].split(";")[0].strip()
    return normalize_language(tag if tag and tag != "*" else None, default)


def _where_user_was(request: web.Request) -> str:
    """The page to come back to after signing in: for htmx, the page the request came from."""
    if request.headers.get("HX-Request") == "true":
        current = request.headers.get("HX-Current-URL", "")
        parts = urlsplit(current)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return local_path(path)
    if request.method in csrf.SAFE_METHODS:
        return local_path(request.path_qs)
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.netloc and referer.netloc != request.host:
        return "/"
    return local_path(referer.path + (f"?{referer.query}" if referer.query else ""))


def _to_signin(request: web.Request) -> web.Response:
    target = signin_url(_where_user_was(request))
    if request.headers.get("HX-Request") == "true":
        return web.Response(status=200, headers={"HX-Redirect": target})
    return web.Response(status=303, headers={"Location": target})


def _problem_page(request: web.Request, c: WebContext, status: int, message: str) -> web.Response:
    if c.htmx:
        # Into the page's message area, whatever the request meant to swap: the form stays as typed.
        c.headers.update({"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"})
        return render(request, "error_fragment.html", {"status": status, "message": message}, status=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


@web.middleware
async def web_middleware(request: web.Request, handler) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    route = web_route_of(request)
    if route is None:
        return await handler(request)
    request[WEB_ROUTE] = route
    settings = request.app[settings_key]
    async with request.app[db_key].sessions() as session:
        c = WebContext(
            session=session,
            settings=settings,
            t=get_translator(settings.default_language),
            language=settings.default_language,
            fmt=Formats(settings.default_language, settings.tz),
            htmx=request.headers.get("HX-Request") == "true",
        )
        request[WEB] = c
        # Pages are rendered before a rollback: a rollback expires the loaded rows (the signed-in
        # user in the header) and a template must not load them again.
        try:
            session_id = request.cookies.get(SESSION_COOKIE)
            signed_in = await signed_in_session(session, session_id=session_id) if session_id else None
            if signed_in is not None and signed_in[1].csrf_token:
                c.user, staff_session = signed_in
                c.session_id = session_id
                c.csrf_token = staff_session.csrf_token or ""
                language = normalize_language(c.user.language, settings.default_language)
            else:
                language = browser_language(request, settings.default_language)
            c.language, c.t, c.fmt = language, get_translator(language), Formats(language, settings.tz)
            if route.role is not None and c.user is None:
                response: web.StreamResponse = _to_signin(request)
            elif route.role is not None and not c.has_role(route.role):
                response = _problem_page(request, c, 403, c.t("web.error.forbidden_page"))
            elif request.method not in csrf.SAFE_METHODS and not csrf.same(
                request.cookies.get(csrf.SIGNIN_COOKIE) if route.csrf == "signin" else c.csrf_token,
                await csrf.sent_token(request),
            ):
                response = _problem_page(request, c, 403, c.t("web.error.csrf"))
            elif route.streaming:
                await session.commit()
                await session.close()
                return await handler(request)
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                await session.commit()
                raise
            key = {404: "web.error.not_found", 405: "web.error.method", 413: "web.error.too_large"}.get(
                exc.status, "web.error.refused"
            )
            response = _problem_page(request, c, exc.status, c.t(key))
        except ApiProblem as exc:  # raised by the shared file download (backoffice/files.py)
            key = {
                "file_unavailable": "web.error.file_unavailable",
                "storage_full": "web.error.storage_full",
            }.get(exc.code, "web.error.not_found")
            response = _problem_page(request, c, exc.status, c.t(key))
        except DomainError as exc:
            status = {"not_found": 404, "stale_version": 409, "forbidden": 403}.get(exc.code, 422)
            response = _problem_page(request, c, status, error_text(c.t, exc))
        except StaleDataError:
            # A concurrent request changed the claim between our read and our write.
            response = _problem_page(request, c, 409, c.t("web.error.stale"))
        except IntegrityError:
            response = _problem_page(request, c, 409, c.t("web.error.conflict"))
        except DBAPIError as exc:
            if str(getattr(exc.orig, "sqlstate", "") or "").startswith("22"):
                response = _problem_page(request, c, 422, c.t("web.error.invalid_data"))
            else:
                log.exception("database error on %s %s", request.method, request.path)
                response = _problem_page(request, c, 500, c.t("web.error.internal"))
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = _problem_page(request, c, 500, c.t("web.error.internal"))
        if response.status < 400:
            await session.commit()
        else:
            await session.rollback()
        return response


async def page_cache_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: how the pages may be cached (their security headers, the CSP included,
    come from backoffice/security_headers.py, as every answer's do)."""
    if request.get(WEB_ROUTE) is not None:
        # Pages show customers' data: not for shared caches, and not from the back button after sign-out.
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Vary", "HX-Request")
