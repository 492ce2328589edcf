"""State of one emulated bot: its chats (chats.py), files, pending updates and button presses;
the changes that Telegram tells the bot about push an update."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.sandbox.chats import Chat, GroupChat, Member, PrivateChat, Topic, UserProfile, strip_reply
from bot.sandbox.files import FileStore
from bot.sandbox.ids import clock_start
from bot.sandbox.protocol import JSON, now_ts


@dataclass
class Callback:
    id: str
    chat_id: int
    message_id: int
    data: str | None
    created: float
    answered: bool = False
    user_id: int | None = None  # who pressed


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


class BotWorld:
    """Everything one bot token sees.  Mutations call ``notify`` so waiters wake up."""

    def __init__(self, token: str, *, first_name: str = "Sandbox Bot", username: str | None = None) -> None:
        self.token = token
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else int(hashlib.sha1(token.encode()).hexdigest()[:8], 16)
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username or f"sandbox_{self.bot_id}_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, Chat] = {}
        self.files = FileStore()
        self.updates: list[JSON] = []
        self.next_update_id = clock_start()  # never repeats across restarts (ids.py)
        self.callbacks: dict[str, Callback] = {}
        self.webhook: Webhook | None = None
        self.allowed_updates: list[str] | None = None
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.description: dict[str, str] = {}
        self.topic_icon_stickers: list[JSON] = []  # getForumTopicIconStickers, made on first use
        self._waiters: list[asyncio.Future[None]] = []
        self.version = 0  # bumped on every change; the sandbox page long-polls on it
        self._media_group_seq = itertools.count(clock_start())

    # -- change notification -------------------------------------------------------------
    def notify(self) -> None:
        self.version += 1
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_change(self, timeout: float) -> bool:
        """Sleep until the next mutation or ``timeout``; False on timeout."""
        if timeout <= 0:
            return False
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError
            await self.wait_change(remaining)
        return result

    # -- users and chats -------------------------------------------------------------------
    def chat_for(self, profile: UserProfile) -> PrivateChat:
        """The private chat with this user (created on first use; the profile replaced otherwise)."""
        chat = self.chats.get(profile.id)
        if chat is None:
            chat = PrivateChat(user=profile)
            self.chats[profile.id] = chat
        elif isinstance(chat, PrivateChat):
            chat.user = profile
        else:
            raise LookupError(f"chat {profile.id} is not a private chat")
        return chat

    def private_chat(self, user_id: int) -> PrivateChat:
        chat = self.chats.get(user_id)
        if not isinstance(chat, PrivateChat):
            raise LookupError(f"unknown user {user_id}")
        return chat

    def group_chat(self, chat_id: int) -> GroupChat:
        chat = self.chats.get(chat_id)
        if not isinstance(chat, GroupChat):
            raise LookupError(f"no supergroup {chat_id}")
        return chat

    def new_group(self, chat_id: int, title: str, *, is_forum: bool, owner: UserProfile) -> GroupChat:
        if chat_id in self.chats:
            raise LookupError(f"chat {chat_id} exists already")
        group = GroupChat(chat_id=chat_id, title=title, is_forum=is_forum)
        group.members[owner.id] = Member(owner.as_user(), "creator")
        self.chats[chat_id] = group
        self.notify()
        return group

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        """The user blocks (or unblocks) the bot; Telegram tells the bot with a my_chat_member update."""
        chat = self.private_chat(user_id)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        bot_member = {"user": self.bot_user}
        self.push_update(
            "my_chat_member",
            {
                "chat": chat.user.as_chat(),
                "from": chat.user.as_user(),
                "date": now_ts(),
                "old_chat_member": {**bot_member, "status": old, **({"until_date": 0} if old == "kicked" else {})},
                "new_chat_member": {**bot_member, "status": new, **({"until_date": 0} if new == "kicked" else {})},
            },
        )

    def new_media_group_id(self) -> str:
        return str(next(self._media_group_seq))

    def chat_instance(self, chat_id: int) -> str:
        return str(int(hashlib.sha1(f"{self.bot_id}:{chat_id}".encode()).hexdigest()[:15], 16))

    # -- updates ---------------------------------------------------------------------------
    def push_update(self, kind: str, payload: JSON) -> JSON:
        # A snapshot: later edits of the stored message must not change an undelivered update.
        update = {"update_id": self.next_update_id, kind: copy.deepcopy(payload)}
        self.next_update_id += 1
        self.updates.append(update)
        self.notify()
        return update

    def update_allowed(self, update: JSON, allowed: list[str] | None) -> bool:
        if not allowed:
            # Telegram's default excludes these three update types.
            return not any(k in update for k in ("chat_member", "message_reaction", "message_reaction_count"))
        return any(k in update for k in allowed)

    def set_bot_member(self, group: GroupChat, status: str, rights: dict[str, bool], *, by: JSON) -> None:
        """``by`` adds, promotes, demotes or removes the bot; it learns so from a my_chat_member update."""
        old = group.members.get(self.bot_id) or Member(self.bot_user, "left")
        new = Member(self.bot_user, status, dict(rights) if status == "administrator" else {})
        if new == old:
            return
        group.members[self.bot_id] = new
        self.push_update(
            "my_chat_member",
            {
                "chat": group.as_chat(),
                "from": by,
                "date": now_ts(),
                "old_chat_member": old.as_chat_member(),
                "new_chat_member": new.as_chat_member(),
            },
        )

    # -- messages ------------------------------------------------------------------------------
    def bot_sees(self, group: GroupChat, msg: JSON) -> bool:
        """Whether the bot gets an update for a person's message in ``group``: all of them as an
        administrator (or with privacy mode off); else only commands, replies to its own messages
        and service messages, as Telegram's privacy mode decides."""
        me = group.members.get(self.bot_id)
        if me is None or not me.present:
            return False
        if me.is_admin or self.bot_user.get("can_read_all_group_messages") or is_service(msg):
            return True
        replied = msg.get("reply_to_message") or {}
        if replied.get("from", {}).get("id") == self.bot_id and not is_service(replied):
            return True
        return str(msg.get("text", "")).startswith("/")

    def post(
        self, chat: Chat, sender: JSON, content: JSON, *, thread_id: int | None = None, reply_to: int | None = None
    ) -> JSON:
        """A new message in ``chat`` from a person or from the bot (in forum topic ``thread_id``,
        replying to ``reply_to``). The bot gets an update for a person's message it may see, and
        for the service messages its own calls post, as Telegram's Bot API server gives them."""
        from_bot = sender.get("id") == self.bot_id
        mid = chat.new_message_id()
        msg: JSON = {"message_id": mid, "from": sender, "chat": chat.as_chat(), "date": now_ts()}
        if isinstance(chat, GroupChat):
            msg.update(chat.thread_fields(thread_id, reply_to))
        elif reply_to is not None and reply_to in chat.messages:
            msg["reply_to_message"] = strip_reply(chat.messages[reply_to])
        msg.update(content)
        chat.messages[mid] = msg
        if from_bot:
            chat.from_bot.add(mid)
        elif isinstance(chat, PrivateChat):
            chat.started = True
        if isinstance(chat, GroupChat):
            tell = (is_service(msg) or not from_bot) and self.bot_sees(chat, msg)
        else:
            tell = not from_bot
        if tell:
            self.push_update("message", msg)
        self.notify()
        return msg

    def open_topic(self, group: GroupChat, creator: JSON, name: str, icon_color: int, icon: str | None) -> Topic:
        """A new topic: its creation service message gives its id; the bot gets that message."""
        created: JSON = {"name": name, "icon_color": icon_color}
        if icon:
            created["icon_custom_emoji_id"] = icon
        thread_id = group.next_message_id  # the creation message is the topic's first message
        topic = Topic(thread_id, name, icon_color, creator["id"], icon_custom_emoji_id=icon)
        group.topics[thread_id] = topic
        self.post(group, creator, {"forum_topic_created": created}, thread_id=thread_id)
        return topic

    def edit_topic(self, group: GroupChat, topic: Topic, by: JSON, *, name: str | None, icon: str | None) -> None:
        """Rename the topic and/or change its icon (``icon=""`` removes it): forum_topic_edited."""
        edited: JSON = {}
        if name is not None:
            topic.name = edited["name"] = name
        if icon is not None:
            edited["icon_custom_emoji_id"] = icon
            topic.icon_custom_emoji_id = icon or None
        self.post(group, by, {"forum_topic_edited": edited}, thread_id=topic.thread_id)

    def set_topic_closed(self, group: GroupChat, topic: Topic, by: JSON, closed: bool) -> None:
        topic.closed = closed
        kind = "forum_topic_closed" if closed else "forum_topic_reopened"
        self.post(group, by, {kind: {}}, thread_id=topic.thread_id)

    def delete_topic(self, group: GroupChat, topic: Topic) -> None:
        """The topic and every message in it go; Telegram sends no update for that."""
        del group.topics[topic.thread_id]
        for mid in [mid for mid, m in group.messages.items() if group.thread_of(m) == topic.thread_id]:
            del group.messages[mid]
            if mid in group.sent_by_id:
                group.sent_by_id[mid].deleted = True
        self.notify()

    def tell_edit(self, chat: Chat, msg: JSON) -> None:
        """A person edited ``msg``: an edited_message update, when the bot sees that chat's messages."""
        if isinstance(chat, PrivateChat) or (isinstance(chat, GroupChat) and self.bot_sees(chat, msg)):
            self.push_update("edited_message", dict(msg))
        self.notify()

    # -- messages from the user side ------------------------------------------------------------
    def user_message(self, chat: PrivateChat, content: JSON, *, reply_to: int | None = None) -> JSON:
        """The user writes in the private chat; the bot gets it as an update."""
        return self.post(chat, chat.user.as_user(), content, reply_to=reply_to)


SERVICE_KINDS = ("forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened")


def is_service(msg: JSON) -> bool:
    return any(k in msg for k in SERVICE_KINDS)
