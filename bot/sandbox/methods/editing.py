"""Changing what was sent: edits of the bot's messages, deletions, answers to button presses."""

from __future__ import annotations

import time

from bot.sandbox.calls import Call, Handler
from bot.sandbox.chats import Chat, GroupChat, SentMessage
from bot.sandbox.errors import NOT_MODIFIED, QUERY_TOO_OLD, bad
from bot.sandbox.outgoing import caption, find_chat, flood_check, format_text, markup, writable_chat
from bot.sandbox.protocol import JSON, now_ts


def _editable(call: Call) -> tuple[Chat, JSON, SentMessage]:
    if call.params.get("inline_message_id"):
        raise bad("message to edit not found")
    chat = writable_chat(call)
    mid = call.int("message_id")
    msg = chat.messages.get(mid) if mid is not None else None
    if mid is None or msg is None:
        raise bad("message to edit not found")
    if mid not in chat.from_bot:
        raise bad("message can't be edited")
    return chat, msg, chat.sent_by_id[mid]


def _apply_edit(call: Call, chat: Chat, msg: JSON, record: SentMessage, changes: JSON, keyboard: JSON | None) -> JSON:
    new_markup = keyboard if keyboard and "inline_keyboard" in keyboard else None
    same = all(msg.get(k) == v for k, v in changes.items() if v is not None) and all(
        k in changes and changes[k] is not None for k in ("entities", "caption_entities") if k in msg
    )
    if same and msg.get("reply_markup") == new_markup:
        raise bad(NOT_MODIFIED)
    flood_check(call, chat, counts_global=False)
    record.history.append(
        {
            "text": record.text,
            "caption": record.caption,
            "entities": record.entities,
            "reply_markup": record.reply_markup,
            "parse_mode": record.parse_mode,
            "edit_date": record.edit_date,
        }
    )
    for k, v in changes.items():
        if v is None:
            msg.pop(k, None)
        else:
            msg[k] = v
    if new_markup is None:
        msg.pop("reply_markup", None)
    else:
        msg["reply_markup"] = new_markup
    msg["edit_date"] = now_ts()
    record.edit_date = msg["edit_date"]
    record.text = msg.get("text")
    record.caption = msg.get("caption")
    record.entities = list(msg.get("entities") or msg.get("caption_entities") or [])
    record.reply_markup = new_markup
    if "parse_mode" in call.params:
        record.parse_mode = call.params.get("parse_mode") or None
    call.world.notify()
    return msg


async def edit_message_text(call: Call) -> JSON:
    p = call.params
    chat, msg, record = _editable(call)
    if "text" not in msg:
        raise bad("there is no text in the message to edit")
    if p.get("text") in (None, ""):
        raise bad("message text is empty")
    text, ents = format_text(call, p.get("text"), p.get("parse_mode"), p.get("entities"))
    if not text.strip():
        raise bad("message text is empty")
    return _apply_edit(call, chat, msg, record, {"text": text, "entities": ents or None}, markup(p))


async def edit_message_caption(call: Call) -> JSON:
    chat, msg, record = _editable(call)
    if "text" in msg:
        raise bad("there is no caption in the message to edit")
    cap = caption(call, call.params)
    changes = {"caption": cap.get("caption"), "caption_entities": cap.get("caption_entities")}
    return _apply_edit(call, chat, msg, record, changes, markup(call.params))


async def edit_message_reply_markup(call: Call) -> JSON:
    chat, msg, record = _editable(call)
    keyboard = markup(call.params)
    if msg.get("reply_markup") == (keyboard if keyboard and "inline_keyboard" in keyboard else None):
        raise bad(NOT_MODIFIED)
    return _apply_edit(call, chat, msg, record, {}, keyboard)


async def delete_message(call: Call) -> bool:
    chat = find_chat(call)
    mid = call.int("message_id")
    if mid is None or mid not in chat.messages:
        raise bad("message to delete not found")
    if isinstance(chat, GroupChat):
        me = chat.member(call.world.bot_id)
        others = mid not in chat.from_bot and not (me is not None and me.can("can_delete_messages"))
        if others or "forum_topic_created" in chat.messages[mid]:
            raise bad("message can't be deleted")
    del chat.messages[mid]
    if mid in chat.sent_by_id:
        chat.sent_by_id[mid].deleted = True
    call.world.notify()
    return True


async def answer_callback_query(call: Call) -> bool:
    world = call.world
    cb = world.callbacks.get(str(call.params.get("callback_query_id") or ""))
    if cb is None or cb.answered or time.monotonic() - cb.created > call.context.behaviour.callback_ttl:
        raise bad(QUERY_TOO_OLD)
    text = call.params.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad("MESSAGE_TOO_LONG")
    cb.answered = True
    world.chats[cb.chat_id].answers.append(
        {
            "callback_query_id": cb.id,
            "message_id": cb.message_id,
            "from_id": cb.user_id,
            "data": cb.data,
            "text": text,
            "show_alert": call.bool("show_alert"),
            "url": call.params.get("url"),
            "cache_time": call.int("cache_time", 0),
        }
    )
    world.notify()
    return True


METHODS: dict[str, Handler] = {
    "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "answerCallbackQuery": answer_callback_query,
}
