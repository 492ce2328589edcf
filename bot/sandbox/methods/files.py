"""Files: getFile (the download itself is the transport's /file/bot<token>/<path> route)."""

from __future__ import annotations

from bot.sandbox.calls import Call, Handler
from bot.sandbox.errors import bad
from bot.sandbox.protocol import JSON

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # bots can download files of up to 20 MB


async def get_file(call: Call) -> JSON:
    f = call.world.files.get(str(call.params.get("file_id") or ""))
    if f is None:
        raise bad("invalid file_id")
    if f.size > DOWNLOAD_LIMIT:
        raise bad("file is too big")
    return f.as_file()


METHODS: dict[str, Handler] = {"getFile": get_file}
