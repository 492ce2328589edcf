"""Attachments: fetched through the Bot API (getFile, then the file URL) on first request and kept
under CLAIMDESK_DATA_DIR/files, then streamed from disk."""

from __future__ import annotations

import logging
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice.keys import files_key
from backoffice.problems import ApiProblem
from shared.claims.queries import get_attachment, set_attachment_storage
from shared.enums import AttachmentKind
from shared.errors import InvalidValue
from shared.interactions.attachment_files import StorageFull, new_file
from shared.interactions.service import AttachmentIn
from shared.settings import Settings

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10)
MAX_UPLOAD = 10 * 1024 * 1024  # Telegram's limit for photos; documents may be larger there, not here


def storage_full() -> ApiProblem:
    """The disk that keeps the files is full: said plainly (507), nothing stored by the request."""
    return ApiProblem(507, "storage_full", "api.problem.storage_full")


def files_dir(settings: Settings) -> Path:
    return (settings.data_dir / "files").resolve()


# What a browser may show in the page itself (the staff pages' thumbnails); anything else is a download.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


async def http_client(app: web.Application) -> AsyncIterator[None]:
    """The app's HTTP client for the Bot API, opened at startup and closed at cleanup."""
    client = aiohttp.ClientSession(timeout=FETCH_TIMEOUT)
    app[files_key] = client
    try:
        yield
    finally:
        await client.close()


def _client(app: web.Application) -> aiohttp.ClientSession:
    return app[files_key]  # type: ignore[return-value]


async def _download(request: web.Request, settings: Settings, file_id: str, target: Path) -> None:
    # Without BOT_TOKEN the files are the local sandbox emulator's (the bot part talks to it).
    api = settings.bot_api
    base, token = api.base, api.token
    client = _client(request.app)
    try:
        async with client.get(f"{base}/bot{token}/getFile", params={"file_id": file_id}) as resp:
            answer = await resp.json(content_type=None)
        if not answer.get("ok") or not answer.get("result", {}).get("file_path"):
            log.warning("getFile refused %s: %s", file_id, answer.get("description"))
            raise ApiProblem(502, "file_unavailable", "api.problem.file_unavailable")
        file_path = answer["result"]["file_path"]
        async with client.get(f"{base}/file/bot{token}/{quote(file_path)}") as resp:
            if resp.status != 200:
                raise ApiProblem(502, "file_unavailable", "api.problem.file_unavailable")
            with new_file(target) as out:
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    out.write(chunk)
    except StorageFull:
        raise storage_full() from None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("cannot fetch %s: %r", file_id, exc)
        raise ApiProblem(502, "file_unavailable", "api.problem.file_unavailable") from None


async def stream_attachment(
    request: web.Request, attachment_id: int, *, session: AsyncSession, settings: Settings, inline: bool = False
) -> web.StreamResponse:
    """`inline`: an image is shown in the page (Content-Disposition inline); anything else, and
    everything when False, downloads."""
    attachment = await get_attachment(session, attachment_id=attachment_id)
    if attachment.removed_at is not None:
        # Deleted for good (the retention period ended, or the customer's data was erased).
        raise ApiProblem(410, "file_removed", f"api.problem.file_{attachment.removed_reason or 'expired'}")
    root = files_dir(settings)
    cached: Path | None = None
    if attachment.storage_path:
        candidate = (root / attachment.storage_path).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            cached = candidate
    if cached is None:
        if not attachment.tg_file_id:
            raise ApiProblem(404, "not_found", "api.problem.not_found")
        name = attachment.tg_file_unique_id or attachment.tg_file_id
        # Telegram's ids are base64url; `.`, `..` or a path separator would name a directory (a 500
        # on the write) or another place: no such file.
        if name in (".", "..") or any(sep in name for sep in ("/", "\\", "\0")):
            raise ApiProblem(404, "not_found", "api.problem.not_found")
        relative = f"tg/{_SAFE.sub('_', name)[:120]}"
        cached = root / relative
        if not cached.is_file():
            await _download(request, settings, attachment.tg_file_id, cached)
        await set_attachment_storage(session, attachment_id=attachment.id, storage_path=relative)
    mime = attachment.mime_type or mimetypes.guess_type(attachment.file_name or "")[0]
    if mime is None and inline and attachment.kind == "photo":
        mime = "image/jpeg"  # Telegram sends photos as JPEG and names no type for them
    mime = mime or "application/octet-stream"
    name = attachment.file_name or f"attachment-{attachment.id}"
    disposition = "inline" if inline and mime in INLINE_TYPES else "attachment"
    response = web.FileResponse(
        cached,
        headers={
            "Content-Type": mime,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name)}",
            # Opened on its own, a file is inert: no script, no plugin, no form.
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
            "Cache-Control": "private, max-age=3600",
            # The type is the sender's claim: never let a browser sniff an "image" into HTML/script.
            "X-Content-Type-Options": "nosniff",
        },
    )
    return response


def save_upload(settings: Settings, upload: web.FileField) -> AttachmentIn:
    """A file staff attach to a reply, kept under CLAIMDESK_DATA_DIR/files/uploads; the delivery
    worker sends it from there. JPEG and PNG go as photos, anything else as a document."""
    data = upload.file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidValue("files", f"a file is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
    if not data:
        raise InvalidValue("files", "an empty file")
    name = (upload.filename or "file").replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
    mime = upload.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    relative = f"uploads/{uuid.uuid4().hex}-{_SAFE.sub('_', name)[:80]}"
    try:
        with new_file(files_dir(settings) / relative) as out:
            out.write(data)
    except StorageFull:
        raise storage_full() from None
    kind = AttachmentKind.PHOTO if mime in ("image/jpeg", "image/png") else AttachmentKind.DOCUMENT
    return AttachmentIn(kind=kind, file_name=name, mime_type=mime, size=len(data), storage_path=relative)
