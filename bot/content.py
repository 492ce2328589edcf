"""What a customer's Telegram message carries, in the domain's terms (text, attachments, where it
sits in Telegram), and small rendering helpers shared by the routers."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from shared.enums import AttachmentKind
from shared.interactions.service import AttachmentIn, TelegramRef
from shared.notifications.answers import keep_message

TEXT_LIMIT = 4096

# Telegram media kinds the desk keeps as files; animations and round videos are videos to staff.
_FILE_KINDS: dict[str, AttachmentKind] = {
    "photo": AttachmentKind.PHOTO,
    "document": AttachmentKind.DOCUMENT,
    "video": AttachmentKind.VIDEO,
    "animation": AttachmentKind.VIDEO,
    "video_note": AttachmentKind.VIDEO,
    "voice": AttachmentKind.VOICE,
    "audio": AttachmentKind.AUDIO,
}


@dataclass(frozen=True, slots=True)
class Content:
    text: str  # the text or caption as sent, or a marker for contents that are not text
    attachments: tuple[AttachmentIn, ...]
    is_text: bool  # a plain text message (what the wizard's text steps ask for)


def attachment_of(message: Message) -> AttachmentIn | None:
    for kind, domain_kind in _FILE_KINDS.items():
        media: Any = getattr(message, kind, None)
        if not media:
            continue
        if kind == "photo":
            media = media[-1]  # the largest size
        return AttachmentIn(
            kind=domain_kind,
            tg_file_id=media.file_id,
            tg_file_unique_id=media.file_unique_id,
            file_name=getattr(media, "file_name", None),
            mime_type=getattr(media, "mime_type", None) or ("image/jpeg" if kind == "photo" else None),
            size=getattr(media, "file_size", None),
        )
    return None


def content_of(message: Message) -> Content:
    attachment = attachment_of(message)
    text = message.text or message.caption or ""
    if not text and attachment is None:
        # Nothing is dropped: stickers, contacts, locations are kept as a readable marker.
        if message.sticker:
            text = f"[sticker] {message.sticker.emoji or ''}".strip()
        elif message.contact:
            text = f"[contact] {message.contact.phone_number}"
        elif message.location:
            text = f"[location] {message.location.latitude}, {message.location.longitude}"
        else:
            text = f"[{message.content_type}]"
    return Content(text=text, attachments=(attachment,) if attachment else (), is_text=message.text is not None)


def telegram_ref(message: Message, *, edited: bool = False) -> TelegramRef:
    edit_date = message.edit_date if edited and message.edit_date else 0
    if edited and not edit_date:
        edit_date = int(message.date.timestamp())
    return TelegramRef(
        chat_id=message.chat.id,
        message_id=message.message_id,
        edit_date=int(edit_date),
        media_group_id=message.media_group_id,
    )


def attachment_to_dict(item: AttachmentIn) -> dict[str, Any]:
    return {
        "kind": item.kind.value if isinstance(item.kind, AttachmentKind) else item.kind,
        "file_id": item.tg_file_id,
        "unique_id": item.tg_file_unique_id,
        "file_name": item.file_name,
        "mime_type": item.mime_type,
        "size": item.size,
    }


def attachment_from_dict(raw: dict[str, Any]) -> AttachmentIn:
    return AttachmentIn(
        kind=AttachmentKind(raw["kind"]),
        tg_file_id=raw.get("file_id"),
        tg_file_unique_id=raw.get("unique_id"),
        file_name=raw.get("file_name"),
        mime_type=raw.get("mime_type"),
        size=raw.get("size"),
    )


def esc(value: object, limit: int | None = None) -> str:
    """Customer text for an HTML-parse-mode message: cut (by characters) and escaped."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return html.escape(text, quote=False)


async def keep_unanswered(message: Message, session: AsyncSession, customer_id: int, claim_id: int | None) -> None:
    """Keep what a customer sent when the step it answered cannot take it: nothing a customer
    sends is dropped (a redelivered update never gets here: the update middleware skips it)."""
    content = content_of(message)
    await keep_message(
        session,
        customer_id=customer_id,
        text=content.text,
        telegram=telegram_ref(message),
        attachments=content.attachments,
        about_claim_id=claim_id,
    )
