"""What the methods that send or change the bot's messages share: finding the target chat, the
checks Telegram makes before sending (blocked, membership, flood, reply target, forum topic), text
and keyboard parsing, files given by upload, id or URL, and creating the bot's message."""

from __future__ import annotations

import mimetypes
import re
from typing import Any

from bot.sandbox.calls import Call
from bot.sandbox.chats import Chat, GroupChat, PrivateChat, SentMessage
from bot.sandbox.entities import EntityParseError, parse_html, parse_markdown_v2, utf16_len
from bot.sandbox.errors import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEACTIVATED,
    THREAD_NOT_FOUND,
    TOPIC_CLOSED,
    WRONG_FILE,
    ApiError,
    bad,
    forbidden,
    too_many_requests,
)
from bot.sandbox.files import StoredFile, Upload
from bot.sandbox.protocol import JSON
from bot.sandbox.world import BotWorld

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "copy_text",
)
_TEXT_BUTTON = "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"


def find_chat(call: Call, *, key: str = "chat_id") -> Chat:
    """The chat named by ``key``; Telegram's "chat not found" for anything the bot cannot see."""
    raw = call.params.get(key)
    if raw is None or raw == "":
        raise bad("chat_id is empty") if key == "chat_id" else bad(CHAT_NOT_FOUND)
    try:
        chat_id = int(raw)
    except (TypeError, ValueError):
        raise bad(CHAT_NOT_FOUND) from None
    chat = call.world.chats.get(chat_id)
    if chat is None:
        raise bad(CHAT_NOT_FOUND)
    return chat


def not_a_member(call: Call, group: GroupChat) -> ApiError | None:
    """Telegram's refusal when the bot is not (or no longer) in the supergroup."""
    me = group.member(call.world.bot_id)
    if me is None or me.status == "left":
        return forbidden("bot is not a member of the supergroup chat")
    if me.status == "kicked":
        return forbidden("bot was kicked from the supergroup chat")
    return None


def writable_chat(call: Call) -> Chat:
    """The target chat of a send: it must exist and the bot must be allowed to write there."""
    chat = find_chat(call)
    if isinstance(chat, GroupChat):
        if (refusal := not_a_member(call, chat)) is not None:
            raise refusal
        return chat
    assert isinstance(chat, PrivateChat)
    if chat.deactivated:
        raise forbidden(DEACTIVATED)
    if chat.blocked:
        raise forbidden(BLOCKED)
    if call.context.behaviour.require_start and not chat.started:
        raise forbidden("bot can't initiate conversation with a user")
    return chat


def flood_check(call: Call, chat: Chat, *, counts_global: bool = True) -> None:
    """Account one message to ``chat``; 429 with retry_after when it is over Telegram's limits."""
    retry = call.context.flood.check(chat.id, counts_global=counts_global, group=isinstance(chat, GroupChat))
    if retry is not None:
        raise too_many_requests(retry)


def target_thread(call: Call, chat: Chat, reply_to: int | None) -> int | None:
    """The forum topic a send goes to: ``message_thread_id``, else the topic of the message it
    replies to; None for the General topic and for chats without topics. The topic must exist
    ("message thread not found") and, when closed, take the bot's messages (TOPIC_CLOSED)."""
    requested = call.int("message_thread_id")
    if not isinstance(chat, GroupChat):
        if requested:
            raise bad(THREAD_NOT_FOUND)
        return None
    replied_thread = chat.thread_of(chat.messages[reply_to]) if reply_to is not None else None
    if not requested:
        thread = replied_thread
    elif not chat.is_forum:
        if requested not in chat.messages:  # a reply thread of an ordinary supergroup
            raise bad(THREAD_NOT_FOUND)
        return None
    else:
        thread = requested
        if reply_to is not None and replied_thread != thread:
            raise bad("message to be replied not found")
    if thread is None:
        return None
    topic = chat.topics.get(thread)
    if topic is None:
        raise bad(THREAD_NOT_FOUND)
    if not chat.may_post_in(topic, call.world.bot_id):
        raise bad(TOPIC_CLOSED)
    return thread


def format_text(
    call: Call, text: Any, parse_mode: Any, entities: Any, *, caption: bool = False
) -> tuple[str, list[JSON]]:
    """(plain text, entities) after the parse mode, with Telegram's length limits."""
    text = "" if text is None else str(text)
    parsed: list[JSON] = []
    if parse_mode:
        mode = str(parse_mode).lower()
        try:
            if mode == "html":
                text, parsed = parse_html(text, strict_ampersand=call.context.behaviour.strict_ampersand)
            elif mode == "markdownv2":
                text, parsed = parse_markdown_v2(text)
            elif mode != "markdown":
                raise bad("unsupported parse_mode")
        except EntityParseError as e:
            raise bad(f"can't parse entities: {e}") from None
    elif isinstance(entities, list):
        parsed = entities
    limit = CAPTION_LIMIT if caption else TEXT_LIMIT
    if utf16_len(text) > limit:
        raise bad("message caption is too long" if caption else "message is too long")
    return text, parsed


def caption(call: Call, params: JSON) -> JSON:
    """``caption`` and ``caption_entities`` of a media message, from ``params``."""
    text, ents = format_text(
        call, params.get("caption"), params.get("parse_mode"), params.get("caption_entities"), caption=True
    )
    out: JSON = {}
    if text:
        out["caption"] = text
        if ents:
            out["caption_entities"] = ents
    return out


def markup(params: JSON) -> JSON | None:
    """The reply_markup, checked as Telegram checks it."""
    value = params.get("reply_markup")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad("can't parse inline keyboard markup JSON object")
        for row in rows:
            for b in row:
                if not isinstance(b, dict) or not b.get("text") or not any(k in b for k in _INLINE_ACTIONS):
                    raise bad(_TEXT_BUTTON)
                data = b.get("callback_data")
                if data is not None and (not isinstance(data, str) or not 1 <= len(data.encode()) <= 64):
                    raise bad("BUTTON_DATA_INVALID")
                url = b.get("url")
                if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
                    raise bad("BUTTON_URL_INVALID")
    elif "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad("can't parse keyboard markup JSON object")
        for row in rows:
            for b in row:
                if not (isinstance(b, str) or (isinstance(b, dict) and isinstance(b.get("text"), str))):
                    raise bad('can\'t parse keyboard button: field "text" must be of type String')
    return value


def reply_target(call: Call, chat: Chat) -> int | None:
    """The id of the message this send replies to, from reply_parameters (or the older
    reply_to_message_id); None when it replies to nothing."""
    p = call.params
    rp = p.get("reply_parameters")
    mid: int | None = None
    allow_missing = call.bool("allow_sending_without_reply")
    if isinstance(rp, dict):
        mid = call.int("message_id", source=rp)
        allow_missing = allow_missing or call.bool("allow_sending_without_reply", source=rp)
    elif p.get("reply_to_message_id") not in (None, ""):
        mid = call.int("reply_to_message_id")
    if mid is None:
        return None
    if mid not in chat.messages:
        if allow_missing:
            return None
        raise bad("message to be replied not found")
    return mid


def deliver(
    world: BotWorld,
    chat: Chat,
    content: JSON,
    *,
    kind: str,
    method: str,
    params: JSON,
    markup: JSON | None,
    reply_to: int | None,
    thread_id: int | None = None,
    file: StoredFile | None = None,
) -> JSON:
    """Create a bot message in the chat, record it for the user side, return its JSON."""
    content = dict(content)
    # Only inline keyboards are part of the Message object; reply keyboards live on the client.
    if markup and "inline_keyboard" in markup:
        content["reply_markup"] = markup
    msg = world.post(chat, world.bot_user, content, thread_id=thread_id, reply_to=reply_to)
    if isinstance(chat, PrivateChat):
        if markup and "keyboard" in markup:
            chat.reply_keyboard = markup
        elif markup and markup.get("remove_keyboard"):
            chat.reply_keyboard = None
    record = SentMessage(
        message_id=msg["message_id"],
        chat_id=chat.id,
        kind=kind,
        date=msg["date"],
        text=content.get("text"),
        caption=content.get("caption"),
        parse_mode=params.get("parse_mode") or None,
        entities=list(content.get("entities") or content.get("caption_entities") or []),
        reply_markup=markup,
        media_group_id=content.get("media_group_id"),
        file_id=file.file_id if file else None,
        file_name=file.file_name if file else None,
        reply_to_message_id=reply_to,
        raw=msg,
        method=method,
        message_thread_id=thread_id,
    )
    chat.sent.append(record)
    chat.sent_by_id[record.message_id] = record
    world.notify()
    return msg


def input_file(call: Call, value: Any, field: str, kind: str) -> StoredFile:
    """The file a send names: an upload (by field or ``attach://name``), a file_id, or an URL."""
    world = call.world
    upload: Upload | None = None
    if value is None or value == "":
        upload = call.files.get(field)
        if upload is None:
            raise bad(f"there is no {field} in the request")
    elif isinstance(value, str) and value.startswith("attach://"):
        upload = call.files.get(value.removeprefix("attach://"))
        if upload is None:
            raise bad(WRONG_FILE)
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        # No internet here: an URL source becomes a placeholder file with that name.
        name = value.rstrip("/").rsplit("/", 1)[-1] or "file"
        upload = Upload(name, f"downloaded from {value}".encode(), None)
    elif isinstance(value, str):
        existing = world.files.get(value)
        if existing is None:
            raise bad(WRONG_FILE)
        return existing
    else:
        raise bad(WRONG_FILE)
    if not upload.data:
        raise bad("file must be non-empty")
    mime = upload.content_type
    if not mime or mime == "application/octet-stream":
        mime = mimetypes.guess_type(upload.filename or "")[0] or mime
    return world.files.add(upload.data, kind, file_name=upload.filename, mime_type=mime)
