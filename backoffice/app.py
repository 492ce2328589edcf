"""The back-office aiohttp application factory: the JSON API and the staff web pages (backoffice/web).

Request path through the middlewares (outermost first):
  request id  the request's id (X-Request-Id, taken or made) on its log lines and its answer;
  errors   every failure becomes problem+json (a concurrent change of a versioned row, StaleDataError,
           is 412 like a stale If-Match); request metrics are recorded here;
  cross-site  an unsafe API request a browser could send with the staff member's cookie (or to the
           sign-in route) must come from the back-office's own pages (backoffice/cross_site.py);
  database API routes get one session (one transaction): the caller is signed in and the route's
           role checked before the view runs; the view calls the services; the middleware
           commits once after a successful view and rolls back otherwise (services never commit).
           A read-only route (ApiRoute.read_only: one SELECT, the claims list) gets a session
           without a transaction: sign-in and the SELECT are its only round trips.
           No connection to be had, or one lost on the way: 503 with Retry-After, logged once per
           outage (backoffice/outage.py).
  web      the staff pages' routes (backoffice/web/middleware.py): their own session, sign-in from the
           cookie, role and CSRF checks, and refusals rendered as pages instead of problem+json.
Every answer gets its security headers (nosniff, Referrer-Policy; a CSP on HTML pages) as it is
prepared: backoffice/security_headers.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import time
from pathlib import Path

import asyncpg
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from backoffice.api import ApiRoute, all_routes
from backoffice.auth import LoginThrottle, authenticate
from backoffice.context import CTX, RequestContext
from backoffice.cross_site import check_same_origin
from backoffice.files import http_client
from backoffice.keys import (
    autocommit_key,
    db_key,
    metrics_key,
    openapi_key,
    outage_key,
    registry_key,
    routes_key,
    settings_key,
    throttle_key,
)
from backoffice.openapi import build_openapi
from backoffice.outage import (
    CONNECT_ERRORS,
    RETRY_AFTER_SECONDS,
    DatabaseUnavailable,
    OutageLog,
    is_outage,
    unavailable,
)
from backoffice.problems import (
    ApiProblem,
    from_domain_error,
    from_http_exception,
    render,
)
from backoffice.request_id import echo_request_id, request_id_middleware
from backoffice.security_headers import add_security_headers
from backoffice.web import setup_web, web_middleware
from shared.errors import DomainError
from shared.i18n import get_translator, normalize_language
from shared.runtime import Database
from shared.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["create_app", "db_key", "settings_key"]


ROUTE = web.RequestKey("route", object)
LANGUAGE = web.RequestKey("language", str)
API_VERSION = "1.0.0"


def swagger_ui_dir() -> Path:
    # swagger-ui-py ships the Swagger UI 5 distribution (OpenAPI 3.1 aware) as package data.
    spec = importlib.util.find_spec("swagger_ui")
    assert spec is not None and spec.submodule_search_locations, "swagger-ui-py is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def request_language(request: web.Request, default: str) -> str:
    header = request.headers.get("Accept-Language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            return normalize_language(tag, default)
    return normalize_language(None, default)


async def healthz(request: web.Request) -> web.Response:
    """The process answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers (within a few seconds: a probe must not hang on an unreachable host)."""
    db = request.app[db_key]
    try:
        async with asyncio.timeout(RETRY_AFTER_SECONDS), db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the body
        request.app[outage_key].failed(exc)
        return web.json_response(
            {"status": "unavailable", "detail": type(exc).__name__},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    request.app[outage_key].recovered()
    return web.json_response({"status": "ok"})


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[openapi_key], content_type="application/json")


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>claimdesk API</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script>
</body></html>
"""
DOCS_INIT = Path(__file__).with_name("swagger_init.js")


async def docs(request: web.Request) -> web.Response:
    return web.Response(text=DOCS_PAGE, content_type="text/html")


async def docs_init(request: web.Request) -> web.FileResponse:
    return web.FileResponse(DOCS_INIT, headers={"Content-Type": "text/javascript"})


def _route_of(request: web.Request) -> ApiRoute | None:
    match = request.match_info
    resource = match.route.resource if match.route is not None else None
    if resource is None:
        return None
    return request.app[routes_key].get((request.method, resource.canonical))


def database_problem(request: web.Request, exc: Exception) -> ApiProblem:
    """A database failure as a problem: the database unreachable is 503 (logged once per outage);
    a value it refuses (SQLSTATE class 22: out of range, NUL, bad encoding; asyncpg reports a
    parameter it cannot encode the same way) is 422; anything else is a 500 with its traceback.
    asyncpg's own exceptions come unwrapped from the statements run on its connection."""
    if is_outage(exc):
        request.app[outage_key].failed(exc)
        return unavailable()
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if str(getattr(orig, "sqlstate", "") or "").startswith("22"):
        return ApiProblem(422, "invalid", "api.problem.invalid_data")
    log.exception("database error on %s %s", request.method, request.path)
    return ApiProblem(500, "internal", "api.problem.internal")


def _driver_refused(exc: BaseException) -> bool:
    """asyncpg refused a value on the client side (raised by it directly, or wrapped by SQLAlchemy)."""
    cause = exc.orig.__cause__ if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return isinstance(cause, asyncpg.PostgresError | asyncpg.DataError)


@web.middleware
async def errors_middleware(request: web.Request, handler) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    settings = request.app[settings_key]
    language = request_language(request, settings.default_language)
    request[LANGUAGE] = language
    route = _route_of(request)
    request[ROUTE] = route
    problem: ApiProblem | None = None
    try:
        response = await handler(request)
    except ApiProblem as exc:
        problem = exc
    except DomainError as exc:
        problem = from_domain_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        problem = from_http_exception(exc, body_limit=request.client_max_size)
    except StaleDataError:
        # A versioned row (Claim.version) was changed by a concurrent request between our read and
        # our flush, e.g. a reply setting first_response_at while a PATCH saved the claim: the same
        # answer as a stale If-Match, "changed by someone else, reload" (412), not a 500.
        problem = ApiProblem(412, "stale_version", "api.problem.stale_version")
    except IntegrityError:
        # A race the service's checks could not see (two creators of one name at once).
        problem = ApiProblem(409, "conflict", "api.problem.conflict_race")
    except (DBAPIError, DatabaseUnavailable, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        problem = database_problem(request, exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        problem = ApiProblem(500, "internal", "api.problem.internal")
    if problem is not None:
        response = render(problem, get_translator(language), request.path)
    requests_total, latency = request.app[metrics_key]
    label = (
        route.path
        if route is not None
        else (request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched")
    )
    requests_total.labels(request.method, label, str(response.status)).inc()
    latency.labels(request.method, label).observe(time.perf_counter() - started)
    return response


@web.middleware
async def cross_site_middleware(request: web.Request, handler) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    route = request.get(ROUTE)
    if isinstance(route, ApiRoute):
        check_same_origin(request, route, request.app[settings_key])
    return await handler(request)


@web.middleware
async def database_middleware(request: web.Request, handler) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    route = request.get(ROUTE)
    assert route is None or isinstance(route, ApiRoute)
    if route is None:
        return await handler(request)
    app = request.app
    language = request[LANGUAGE]
    sessions = app[db_key].sessions
    async with sessions(bind=app[autocommit_key]) if route.read_only else sessions() as session:
        context = RequestContext(
            session=session, settings=app[settings_key], t=get_translator(language), language=language
        )
        request[CTX] = context
        try:
            try:
                await session.connection()
            except CONNECT_ERRORS as exc:
                raise DatabaseUnavailable(str(exc)) from exc
            await authenticate(request, context, route.role)
            response = await handler(request)
        except BaseException as exc:
            if _driver_refused(exc):
                # A parameter asyncpg could not encode fails after the statement was parsed, and
                # can leave the server waiting for the rest of the exchange with the tables locked
                # (a TRUNCATE or a migration then waits forever): that connection is dropped.
                await (await session.connection()).invalidate()
            await session.rollback()
            raise
        app[outage_key].recovered()
        if response.status < 400:
            await session.commit()
        else:
            await session.rollback()
        return response


def create_app(settings: Settings, db: Database, *, throttle: LoginThrottle | None = None) -> web.Application:
    app = web.Application(
        client_max_size=20 * 1024 * 1024,
        middlewares=[
            request_id_middleware,
            errors_middleware,
            cross_site_middleware,
            database_middleware,
            web_middleware,
        ],
    )
    app[settings_key] = settings
    app[db_key] = db
    app[autocommit_key] = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    app[throttle_key] = throttle or LoginThrottle.for_settings(settings)
    app[outage_key] = OutageLog()
    registry = CollectorRegistry()
    app[registry_key] = registry
    app[metrics_key] = (
        Counter("claimdesk_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry),
        Histogram(
            "claimdesk_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ),
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs)
    app.router.add_get("/api/docs/init.js", docs_init)
    app.router.add_static("/api/docs/static", swagger_ui_dir())

    routes = all_routes()
    table: dict[tuple[str, str], ApiRoute] = {}
    for route in routes:
        resource_route = app.router.add_route(route.method, route.path, route.handler)
        table[(route.method, resource_route.resource.canonical)] = route
    app[routes_key] = table
    document = build_openapi(routes, title="claimdesk back-office API", version=API_VERSION)
    app[openapi_key] = json.dumps(document, ensure_ascii=False).encode()
    app.cleanup_ctx.append(http_client)
    app.on_response_prepare.append(add_security_headers)
    app.on_response_prepare.append(echo_request_id)
    setup_web(app)
    return app
