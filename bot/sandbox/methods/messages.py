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
    target_thread,
    writable_chat,
)
from bot.sandbox.protocol import JSON

# What a message must hold to be copied or forwarded (service messages cannot be).
COPYABLE = ("text", *MEDIA_KINDS, "contact", "location")

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
    thread = target_thread(call, chat, reply_to)
    flood_check(call, chat)
    content: JSON = {"text": text}
    if ents:
        content["entities"] = ents
    return deliver(
        call.world,
        chat,
        content,
        kind="text",
        method="sendMessage",
        params=p,
        markup=keyboard,
        reply_to=reply_to,
        thread_id=thread,
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
        thread = target_thread(call, chat, reply_to)
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
            thread_id=thread,
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
    thread = target_thread(call, chat, reply_to)
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
        thread_id=thread,
    )


async def send_location(call: Call) -> JSON:
    p = call.params
    chat = writable_chat(call)
    keyboard = markup(p)
    reply_to = reply_target(call, chat)
    thread = target_thread(call, chat, reply_to)
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
        thread_id=thread,
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
    thread = target_thread(call, chat, reply_to)
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
                thread_id=thread,
                file=stored,
            )
        )
    return out


def _copyable(src: JSON | None) -> bool:
    return src is not None and any(k in src for k in COPYABLE)


def _source_message(call: Call, what: str) -> JSON:
    """The message to copy or forward, from ``from_chat_id``; a service message cannot be."""
    src_chat = find_chat(call, key="from_chat_id")
    mid = call.int("message_id")
    src = src_chat.messages.get(mid) if mid is not None else None
    if src is None:
        raise bad(f"message to {what} not found")
    if not _copyable(src):
        raise bad("message can't be copied" if what == "copy" else "message can't be forwarded")
    return src


def _content_of(src: JSON) -> tuple[str, JSON]:
    """(kind, content fields) of a message being copied or forwarded: its text, or its file with
    the caption (the file keeps its file_id: no upload again)."""
    for kind in (*MEDIA_KINDS, "contact", "location"):
        if kind in src:
            content = {kind: src[kind]}
            for k in ("caption", "caption_entities"):
                if k in src:
                    content[k] = src[k]
            return kind, content
    return "text", {k: src[k] for k in ("text", "entities") if k in src}


def _copy(call: Call, src: JSON, *, method: str, forward: bool, group_ids: dict[str, str]) -> JSON:
    """One copy (or forward) of ``src`` into the target chat and topic, already checked."""
    p = call.params
    chat = writable_chat(call)
    kind, content = _content_of(src)
    if forward:
        origin = src.get("from", call.world.bot_user)
        content["forward_origin"] = {"type": "user", "date": src["date"], "sender_user": origin}
    elif call.bool("remove_caption"):
        content.pop("caption", None)
        content.pop("caption_entities", None)
    elif "caption" in p and kind != "text":
        content.pop("caption", None)
        content.pop("caption_entities", None)
        content.update(caption(call, p))
    if src.get("media_group_id") and method in ("copyMessages", "forwardMessages"):
        # An album copied as a whole stays an album, under a new media_group_id.
        old = src["media_group_id"]
        content["media_group_id"] = group_ids.setdefault(old, call.world.new_media_group_id())
    keyboard = markup(p) if method == "copyMessage" else None
    reply_to = reply_target(call, chat) if not forward else None
    thread = target_thread(call, chat, reply_to)
    return deliver(
        call.world,
        chat,
        content,
        kind=kind,
        method=method,
        params=p,
        markup=keyboard,
        reply_to=reply_to,
        thread_id=thread,
        file=call.world.files.get(_file_id(content, kind)) if kind in MEDIA_KINDS else None,
    )


def _file_id(content: JSON, kind: str) -> str:
    media = content[kind]
    return str((media[-1] if isinstance(media, list) else media)["file_id"])


def _message_ids(call: Call) -> list[int]:
    ids = call.params.get("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad("message_ids must be a non-empty array of at most 100 message identifiers")
    try:
        out = [int(i) for i in ids]
    except (TypeError, ValueError):
        raise bad("invalid message identifier specified") from None
    if out != sorted(set(out)):
        raise bad("message identifiers must be in a strictly increasing order")
    return out


def _check_target(call: Call) -> None:
    """The target chat, topic, reply and keyboard are checked, and the flood limits applied, before
    anything is sent (one call counts as one message, as an album does)."""
    chat = writable_chat(call)
    markup(call.params)
    target_thread(call, chat, reply_target(call, chat))
    flood_check(call, chat)


async def copy_message(call: Call) -> JSON:
    src = _source_message(call, "copy")
    _check_target(call)
    msg = _copy(call, src, method="copyMessage", forward=False, group_ids={})
    return {"message_id": msg["message_id"]}


async def forward_message(call: Call) -> JSON:
    src = _source_message(call, "forward")
    _check_target(call)
    return _copy(call, src, method="forwardMessage", forward=True, group_ids={})


async def _copy_many(call: Call, *, forward: bool) -> list[JSON]:
    """Several messages at once, in order; an album stays an album. Messages that cannot be found
    or copied are skipped, as Telegram does."""
    ids = _message_ids(call)
    _check_target(call)
    src_chat = find_chat(call, key="from_chat_id")
    method = "forwardMessages" if forward else "copyMessages"
    group_ids: dict[str, str] = {}
    out = []
    for mid in ids:
        src = src_chat.messages.get(mid)
        if _copyable(src):
            assert src is not None
            msg = _copy(call, src, method=method, forward=forward, group_ids=group_ids)
            out.append({"message_id": msg["message_id"]})
    return out


async def copy_messages(call: Call) -> list[JSON]:
    return await _copy_many(call, forward=False)


async def forward_messages(call: Call) -> list[JSON]:
    return await _copy_many(call, forward=True)


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
    "copyMessages": copy_messages,
    "forwardMessage": forward_message,
    "forwardMessages": forward_messages,
    "sendChatAction": send_chat_action,
}
