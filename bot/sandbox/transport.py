"""The HTTP side of the Bot API: ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``.

Reads parameters from the query string, a JSON body, or a form (with uploaded files), as Telegram
accepts them; answers with Telegram's envelope (``{"ok": true, "result": ...}`` or ``{"ok": false,
"error_code": ..., "description": ...}``); applies injected faults (faults.py) before a call runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes

from aiohttp import web

from bot.sandbox.calls import Methods
from bot.sandbox.errors import BLOCKED, ApiError, bad, forbidden, too_many_requests
from bot.sandbox.faults import Fault, FaultInjector
from bot.sandbox.files import Upload
from bot.sandbox.protocol import JSON, JSON_FIELDS
from bot.sandbox.world import BotWorld

UPLOAD_LIMIT = 50 * 1024 * 1024  # the Bot API upload limit for bots


class Transport:
    """Serves the Bot API of every emulated bot (one per token) over HTTP."""

    def __init__(
        self,
        worlds: dict[str, BotWorld],
        methods: Methods,
        faults: FaultInjector,
        *,
        closing: asyncio.Event,
        fault_hold: float,
    ) -> None:
        self.worlds = worlds
        self.methods = methods
        self.faults = faults
        self.closing = closing
        self.fault_hold = fault_hold
        self.responses_429 = 0
        self.responses_5xx = 0
        self.faults_injected = 0

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=UPLOAD_LIMIT)
        app.router.add_route("*", "/bot{token}/{method}", self.handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self.handle_file)
        return app

    def error(self, code: int, description: str, parameters: JSON | None = None) -> web.Response:
        if code == 429:
            self.responses_429 += 1
        if code >= 500:
            self.responses_5xx += 1
        body: JSON = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    def _api_error(self, e: ApiError) -> web.Response:
        return self.error(e.code, e.description, e.parameters)

    async def handle_api(self, request: web.Request) -> web.StreamResponse:
        world = self.worlds.get(request.match_info["token"])
        if world is None:
            return self.error(401, "Unauthorized")
        entry = self.methods.find(request.match_info["method"])
        if entry is None:
            return self.error(404, "Not Found")
        try:
            params, files = await read_params(request)
        except ApiError as e:
            return self._api_error(e)
        self.methods.record(entry[0], params)
        fault = self.faults.take(entry[0], params)
        if fault is not None:
            self.faults_injected += 1
            early = await self._fault_response(request, fault)
            if early is not None:
                return early
        try:
            result = await self.methods.execute(entry, world, params, files)
        except ApiError as e:
            return self._api_error(e)
        if fault is not None:  # timeout_after: executed, and the answer never comes in time
            await self._hold(fault)
        return web.json_response({"ok": True, "result": result})

    async def _hold(self, fault: Fault) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), fault.hold if fault.hold is not None else self.fault_hold)

    async def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        kind = fault.kind
        if kind == "429":
            return self._api_error(too_many_requests(fault.retry_after))
        if kind == "500":
            return self.error(500, fault.description or "Internal Server Error")
        if kind == "502":
            return self.error(502, fault.description or "Bad Gateway")
        if kind == "403":
            return self.error(403, fault.description or forbidden(BLOCKED).description)
        if kind == "400":
            parse_error = bad('can\'t parse entities: Unsupported start tag "x" at byte offset 0')
            return self.error(400, fault.description or parse_error.description)
        if kind == "timeout":
            await self._hold(fault)
            return self.error(502, "Bad Gateway")
        if kind == "drop":
            # Abort the TCP connection without any HTTP answer, as a dying proxy would.
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        return None  # timeout_after: execute, then hold

    async def handle_file(self, request: web.Request) -> web.StreamResponse:
        world = self.worlds.get(request.match_info["token"])
        if world is None:
            return self.error(401, "Unauthorized")
        f = world.files.by_path.get(request.match_info["path"])
        if f is None:
            return self.error(404, "Not Found")
        ctype = f.mime_type or mimetypes.guess_type(f.file_path)[0] or "application/octet-stream"
        return web.Response(body=f.data, content_type=ctype)


async def read_params(request: web.Request) -> tuple[JSON, dict[str, Upload]]:
    """Parameters from the query string and the body (JSON, urlencoded or multipart), JSON-typed
    fields decoded; uploaded files apart."""
    params: JSON = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method == "POST" and request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad("can't parse JSON body") from None
            if not isinstance(body, dict):
                raise bad("JSON body must be an object")
            params.update(body)
        elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = Upload(value.filename, value.file.read(), value.content_type)
                else:
                    params[key] = value
    for key in JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError:
                if key == "reply_markup":
                    raise bad("can't parse reply keyboard markup JSON object") from None
                raise bad(f"can't parse {key} JSON object") from None
    return params, files
