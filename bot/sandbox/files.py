"""Files of one emulated bot: what users and the bot upload, under opaque ids, with the JSON a
message carries for each kind of file."""

from __future__ import annotations

import itertools
import secrets
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from bot.sandbox.protocol import JSON


@dataclass
class Upload:
    """A file as it arrived in a request (multipart form field)."""

    filename: str | None
    data: bytes
    content_type: str | None


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG, so a bot that opens user photos with an image library does not choke."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG or JPEG; a plausible default for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            seg_len = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(w), int(h)
            i += 2 + seg_len
    return 800, 600


_EXT = {
    "photo": "jpg",
    "video": "mp4",
    "voice": "oga",
    "audio": "mp3",
    "sticker": "webp",
    "animation": "mp4",
    "video_note": "mp4",
}
_DIR = {
    "photo": "photos",
    "document": "documents",
    "video": "videos",
    "voice": "voice",
    "audio": "music",
    "sticker": "stickers",
    "animation": "animations",
    "video_note": "video_notes",
}


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    kind: str
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data)

    def as_file(self) -> JSON:
        """The Bot API ``File`` object (what getFile returns)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


class FileStore:
    """Files of one bot.  file_ids are opaque and unguessable, as in Telegram."""

    def __init__(self) -> None:
        self.by_id: dict[str, StoredFile] = {}
        self.by_path: dict[str, StoredFile] = {}
        self._seq = itertools.count(1)

    def add(
        self,
        data: bytes,
        kind: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        unique_of: StoredFile | None = None,
    ) -> StoredFile:
        n = next(self._seq)
        ext = _EXT.get(kind)
        if ext is None:
            ext = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        w, h = image_size(data) if kind == "photo" else (0, 0)
        f = StoredFile(
            file_id=f"{kind[:2].upper()}{n}_{secrets.token_urlsafe(24)}",
            # Thumbnails of one photo share bytes, but each size has its own unique id.
            file_unique_id=unique_of.file_unique_id + f"s{n}" if unique_of else f"U{n}{secrets.token_hex(6)}",
            data=data,
            kind=kind,
            file_path=f"{_DIR.get(kind, 'documents')}/file_{n}.{ext}",
            file_name=file_name,
            mime_type=mime_type,
            width=w,
            height=h,
        )
        self.by_id[f.file_id] = f
        self.by_path[f.file_path] = f
        return f

    def get(self, file_id: str) -> StoredFile | None:
        return self.by_id.get(file_id)


def media_object(store: FileStore, f: StoredFile, kind: str) -> Any:
    """The JSON a Message carries for a file of ``kind`` (PhotoSize list for photos)."""
    base = {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_size": f.size}
    if kind == "photo":
        w, h = f.width or 800, f.height or 600
        scale = min(1.0, 90 / max(w, h))
        thumb = store.add(f.data, "photo", unique_of=f)
        small = {
            "file_id": thumb.file_id,
            "file_unique_id": thumb.file_unique_id,
            "file_size": thumb.size,
            "width": max(1, int(w * scale)),
            "height": max(1, int(h * scale)),
        }
        return [small, {**base, "width": w, "height": h}]
    if kind == "document":
        return {**base, "file_name": f.file_name or "file.bin", "mime_type": f.mime_type or "application/octet-stream"}
    if kind in ("video", "animation"):
        return {**base, "width": 640, "height": 360, "duration": 3, "mime_type": f.mime_type or "video/mp4"}
    if kind == "video_note":
        return {**base, "length": 240, "duration": 3}
    if kind == "voice":
        return {**base, "duration": 2, "mime_type": f.mime_type or "audio/ogg"}
    if kind == "audio":
        return {**base, "duration": 5, "mime_type": f.mime_type or "audio/mpeg", "file_name": f.file_name}
    if kind == "sticker":
        return {**base, "type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False}
    return base


MEDIA_KINDS = ("photo", "document", "video", "animation", "voice", "audio", "sticker", "video_note")
