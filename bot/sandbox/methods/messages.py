"""Sending: texts, media, albums, contacts, locations, copies, forwards and chat actions."""

from __future__ import annotations

from bot.sandbox.calls import Call, Handler
from bot.sandbox.errors import bad
from bot.sandbox.files import MEDIA_KINDS, StoredFile, media_object
from bot.sandbox.outgoing import (
    caption,
    deliver,
    find_chat,
    flood_check,
    format_text,
    input_file,
    markup,
    reply_target,
    writable_chat,
)
from bot.sandbox.protocol import JSON

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


async def send_message(call: Call) -> JSON:
    p = call.params
    chat = writable_chat(call)
    if p.get("text") in (None, ""):
        raise bad("message text is empty")
    text, ents = format_text(call, p.get("text"), p.get("parse_mode"), p.get("entities"))
    if not text.strip():
        raise bad("message text is empty")
    keyboard = markup(p)
    reply_to = reply_target(call, chat)
    flood_check(call, chat)
    content: JSON = {"text": text}
    if ents:
        content["entities"] = ents
    return deliver(
        call.world, chat, content, kind="text", method="sendMessage", params=p, markup=keyboard, reply_to=reply_to
    )


def media_sender(kind: str, method: str) -> Handler:
    """sendPhoto, sendDocument, ...: one function per kind of file."""

    async def send(call: Call) -> JSON:
        p = call.params
        chat = writable_chat(call)
        stored = input_file(call, p.get(kind), kind, kind)
        text = caption(call, p) if kind not in ("sticker", "video_note") else {}
        keyboard = markup(p)
        reply_to = reply_target(call, chat)
        flood_check(call, chat)
        content: JSON = {kind: media_object(call.world.files, stored, kind), **text}
        if kind == "sticker" and p.get("emoji"):
            content["sticker"]["emoji"] = p["emoji"]
        return deliver(
            call.world,
            chat,
            content,
            kind=kind,
            method=method,
            params=p,
            markup=keyboard,
            reply_to=reply_to,
            file=stored,
        )

    return send


async def send_contact(call: Call) -> JSON:
    p = call.params
    chat = writable_chat(call)
    if not p.get("phone_number") or not p.get("first_name"):
        raise bad("phone number and first name must be non-empty")
    keyboard = markup(p)
    reply_to = reply_target(call, chat)
    flood_check(call, chat)
    contact = {"phone_number": str(p["phone_number"]), "first_name": str(p["first_name"])}
    return deliver(
        call.world,
        chat,
        {"contact": contact},
        kind="contact",
        method="sendContact",
        params=p,
        markup=keyboard,
        reply_to=reply_to,
    )


async def send_location(call: Call) -> JSON:
    p = call.params
    chat = writable_chat(call)
    keyboard = markup(p)
    reply_to = reply_target(call, chat)
    flood_check(call, chat)
    loc = {"latitude": float(p.get("latitude", 0)), "longitude": float(p.get("longitude", 0))}
    return deliver(
        call.world,
        chat,
        {"location": loc},
        kind="location",
        method="sendLocation",
        params=p,
        markup=keyboard,
        reply_to=reply_to,
    )


async def send_media_group(call: Call) -> list[JSON]:
    chat = writable_chat(call)
    media = call.params.get("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad("wrong number of media in the album: must be 2-10")
    kinds = {m.get("type") for m in media if isinstance(m, dict)}
    if not kinds <= {"photo", "video", "document", "audio"}:
        raise bad("wrong media type in the album")
    if ("document" in kinds and len(kinds) > 1) or ("audio" in kinds and len(kinds) > 1):
        raise bad("documents and audio can't be mixed with other media types in an album")
    prepared: list[tuple[str, StoredFile, JSON, JSON]] = []
    for item in media:
        kind = item["type"]
        stored = input_file(call, item.get("media"), "media", kind)
        prepared.append((kind, stored, caption(call, item), item))
    reply_to = reply_target(call, chat)
    flood_check(call, chat)
    group = call.world.new_media_group_id()
    out = []
    for kind, stored, text, item in prepared:
        content = {kind: media_object(call.world.files, stored, kind), "media_group_id": group, **text}
        out.append(
            deliver(
                call.world,
                chat,
                content,
                kind=kind,
                method="sendMediaGroup",
                params=item,
                markup=None,
                reply_to=reply_to,
                file=stored,
            )
        )
    return out


def _source_message(call: Call, what: str) -> JSON:
    src_chat = find_chat(call, key="from_chat_id")
    mid = call.int("message_id")
    src = src_chat.messages.get(mid) if mid is not None else None
    if src is None:
        raise bad(f"message to {what} not found")
    return src


def _content_of(src: JSON) -> tuple[str, JSON]:
    """(kind, content fields) of a message being copied or forwarded."""
    for kind in (*MEDIA_KINDS, "contact", "location"):
        if kind in src:
            content = {kind: src[kind]}
            for k in ("caption", "caption_entities"):
                if k in src:
                    content[k] = src[k]
            return kind, content
    return "text", {k: src[k] for k in ("text", "entities") if k in src}


async def copy_message(call: Call) -> JSON:
    p = call.params
    chat = writable_chat(call)
    src = _source_message(call, "copy")
    kind, content = _content_of(src)
    if "caption" in p and kind != "text":
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption(call, p))
    keyboard = markup(p)
    reply_to = reply_target(call, chat)
    flood_check(call, chat)
    msg = deliver(
        call.world, chat, content, kind=kind, method="copyMessage", params=p, markup=keyboard, reply_to=reply_to
    )
    return {"message_id": msg["message_id"]}


async def forward_message(call: Call) -> JSON:
    chat = writable_chat(call)
    src = _source_message(call, "forward")
    kind, content = _content_of(src)
    sender = src.get("from", call.world.bot_user)
    content["forward_origin"] = {"type": "user", "date": src["date"], "sender_user": sender}
    flood_check(call, chat)
    return deliver(
        call.world, chat, content, kind=kind, method="forwardMessage", params=call.params, markup=None, reply_to=None
    )


async def send_chat_action(call: Call) -> bool:
    chat = writable_chat(call)
    action = str(call.params.get("action") or "")
    if action not in CHAT_ACTIONS:
        raise bad("wrong parameter action in request")
    chat.actions.append(action)
    call.world.notify()
    return True


def _media_method(kind: str) -> str:
    return "send" + "".join(part.capitalize() for part in kind.split("_"))  # video_note -> sendVideoNote


METHODS: dict[str, Handler] = {
    "sendMessage": send_message,
    **{_media_method(kind): media_sender(kind, _media_method(kind)) for kind in MEDIA_KINDS},
    "sendMediaGroup": send_media_group,
    "sendContact": send_contact,
    "sendLocation": send_location,
    "copyMessage": copy_message,
    "forwardMessage": forward_message,
    "sendChatAction": send_chat_action,
}
