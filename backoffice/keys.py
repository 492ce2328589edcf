"""Typed application keys of the back-office app (a module of its own so views can import them)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from backoffice.auth import LoginThrottle
from backoffice.outage import OutageLog
from shared.runtime import Database
from shared.settings import Settings

settings_key = web.AppKey("settings", Settings)
db_key = web.AppKey("db", Database)
routes_key = web.AppKey("routes", dict)
openapi_key = web.AppKey("openapi", bytes)
throttle_key = web.AppKey("throttle", LoginThrottle)
registry_key = web.AppKey("registry", CollectorRegistry)
metrics_key = web.AppKey("metrics", tuple)
files_key = web.AppKey("files", object)
# The engine in autocommit: the sessions of read-only routes (ApiRoute.read_only) use it.
autocommit_key = web.AppKey("autocommit", object)
# Whether this process last found the database unreachable (logs an outage once, and its end).
outage_key = web.AppKey("outage", OutageLog)
