"""Supergroups on the test side: :class:`GroupDriver` (a group, a forum when it has topics: its
members, topics and messages, and the bot's place there) and :class:`MemberDriver` (one person in
the group: posts, in a topic or not, replies, presses the bot's buttons, manages topics)."""

from __future__ import annotations

from typing import Any

from bot.sandbox.chats import TOPIC_COLORS, GroupChat, Member, SentMessage, Topic, UserProfile
from bot.sandbox.protocol import JSON
from bot.sandbox.users import MessageRef, Person, message_id
from bot.sandbox.world import BotWorld

# A topic: ours, its message_thread_id, or anything carrying one (aiogram's ForumTopic, a message).
ThreadRef = Topic | int | JSON | Any


def _thread_id(thread: ThreadRef | None) -> int | None:
    if thread is None or isinstance(thread, int):
        return thread
    if isinstance(thread, Topic):
        return thread.thread_id
    if isinstance(thread, dict):
        return int(thread["message_thread_id"])
    return int(thread.message_thread_id)


class GroupDriver:
    """A supergroup the test (or the sandbox page) drives: who is in it, the bot's rights, its
    topics and messages. People act through :meth:`member`."""

    def __init__(self, world: BotWorld, chat: GroupChat) -> None:
        self.world = world
        self.chat = chat
        self.read_cursor = 0

    @property
    def id(self) -> int:
        return self.chat.id

    @property
    def owner(self) -> JSON:
        """The User object of the group's creator."""
        return next(m.user for m in self.chat.members.values() if m.status == "creator")

    # -- people ---------------------------------------------------------------------------------
    def member(
        self,
        user_id: int,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        admin: bool = False,
        **rights: bool,
    ) -> MemberDriver:
        """The driver of ``user_id`` in this group; joins them (as an administrator with ``rights``
        when ``admin``) on first use. Again without ``first_name``: the same person unchanged."""
        existing = self.chat.member(user_id)
        if existing is not None and existing.present and first_name is None:
            profile = UserProfile(
                id=user_id,
                first_name=existing.user["first_name"],
                last_name=existing.user.get("last_name"),
                username=existing.user.get("username"),
                language_code=existing.user.get("language_code"),
            )
            return MemberDriver(self.world, self.chat, profile)
        profile = UserProfile(user_id, first_name or f"User {user_id}", last_name, username, language_code)
        status = "creator" if existing is not None and existing.status == "creator" else "member"
        if admin and status != "creator":
            status = "administrator"
        self.chat.members[user_id] = Member(profile.as_user(), status, dict(rights) if admin else {})
        self.world.notify()
        return MemberDriver(self.world, self.chat, profile)

    def set_bot(self, status: str = "administrator", **rights: bool) -> None:
        """The owner adds the bot as a "member", makes it an "administrator" with ``rights``
        (``can_manage_topics=True``, ``can_delete_messages=True``...), or removes it ("left",
        "kicked"); the bot gets a my_chat_member update, as from Telegram."""
        if status not in ("member", "administrator", "left", "kicked"):
            raise ValueError(f"unknown status {status!r}")
        self.world.set_bot_member(self.chat, status, rights, by=self.owner)

    @property
    def bot_member(self) -> Member | None:
        return self.chat.member(self.world.bot_id)

    # -- topics ---------------------------------------------------------------------------------
    @property
    def topics(self) -> list[Topic]:
        """Live topics, oldest first."""
        return sorted(self.chat.topics.values(), key=lambda t: t.thread_id)

    def topic(self, name_or_id: str | int) -> Topic:
        for t in self.chat.topics.values():
            if name_or_id in (t.thread_id, t.name):
                return t
        raise LookupError(f"no topic {name_or_id!r} in {self.chat.id}: {[t.name for t in self.topics]}")

    async def wait_for_topic(self, predicate: Any, timeout: float = 5.0) -> Topic:
        """The first topic for which ``predicate(topic)`` holds, once there is one."""
        return await self.world.wait_for(lambda: next((t for t in self.topics if predicate(t)), None), timeout)

    # -- what is in the group -----------------------------------------------------------------
    def messages(self, thread: ThreadRef | None = None, *, general: bool = False) -> list[JSON]:
        """Every live message, both sides, oldest first: in one topic, in the General topic
        (``general=True``), or all of them."""
        msgs = [m for _, m in sorted(self.chat.messages.items())]
        if general:
            return [m for m in msgs if self.chat.thread_of(m) is None]
        if thread is None:
            return msgs
        tid = _thread_id(thread)
        return [m for m in msgs if self.chat.thread_of(m) == tid]

    def sent(self, thread: ThreadRef | None = None) -> list[SentMessage]:
        """What the bot sent here (deleted ones flagged), in one topic or all."""
        tid = _thread_id(thread)
        return [m for m in self.chat.sent if tid is None or m.message_thread_id == tid]

    async def wait_for_messages(self, n: int = 1, timeout: float = 5.0) -> list[SentMessage]:
        """The next ``n`` messages the bot sends to this group, whatever the topic; marks them read."""
        try:
            await self.world.wait_for(lambda: len(self.chat.sent) - self.read_cursor >= n, timeout)
        except TimeoutError:
            got = [m.content for m in self.chat.sent[self.read_cursor :]]
            raise TimeoutError(f"group {self.id}: expected {n} bot message(s) within {timeout}s, got {got}") from None
        start = self.read_cursor
        self.read_cursor = start + n
        return self.chat.sent[start : start + n]

    @property
    def answers(self) -> list[JSON]:
        """answerCallbackQuery calls for presses in this group (``from_id``: who pressed)."""
        return list(self.chat.answers)


class MemberDriver(Person):
    """One person in a supergroup. ``in_topic(topic)`` gives the same person writing in a topic;
    a reply goes to the topic of the message it answers, as Telegram apps send it."""

    def __init__(self, world: BotWorld, chat: GroupChat, person: UserProfile, thread_id: int | None = None) -> None:
        super().__init__(world, chat, person)
        self.chat: GroupChat = chat
        self.thread_id = thread_id

    def in_topic(self, thread: ThreadRef | None) -> MemberDriver:
        """This person writing in ``thread`` (None: the General topic)."""
        return MemberDriver(self.world, self.chat, self.person, _thread_id(thread))

    @property
    def member(self) -> Member:
        m = self.chat.member(self.id)
        if m is None:
            raise LookupError(f"user {self.id} is not in {self.chat.id}")
        return m

    def _post(self, content: JSON, reply_to: MessageRef | None = None) -> JSON:
        if not self.member.present:
            raise PermissionError(f"user {self.id} is not a member of {self.chat.id}")
        reply_id = message_id(reply_to) if reply_to is not None else None
        thread = self.thread_id
        if reply_id is not None:
            replied = self.chat.messages.get(reply_id)
            if replied is None:
                raise LookupError(f"message {reply_id} not found in {self.chat.id}")
            thread = self.chat.thread_of(replied)
        if thread is not None:
            topic = self.chat.topics.get(thread)
            if topic is None:
                raise LookupError(f"no topic {thread} in {self.chat.id}")
            if not self.chat.may_post_in(topic, self.id):
                raise PermissionError("TOPIC_CLOSED")  # what a Telegram app refuses
        return self.world.post(self.chat, self.profile, content, thread_id=thread, reply_to=reply_id)

    # -- topics, as a person manages them in a Telegram app --------------------------------------
    def _topic(self, thread: ThreadRef) -> Topic:
        topic = self.chat.topics.get(_thread_id(thread) or 0)
        if topic is None:
            raise LookupError(f"no topic {thread} in {self.chat.id}")
        return topic

    def _require_topic_rights(self, topic: Topic | None) -> None:
        if topic is not None and topic.created_by == self.id:
            return
        if not self.member.can("can_manage_topics"):
            raise PermissionError(f"user {self.id} may not manage topics in {self.chat.id}")

    def create_topic(self, name: str, icon_color: int = TOPIC_COLORS[0]) -> Topic:
        if not self.chat.is_forum:
            raise PermissionError(f"{self.chat.id} is not a forum")
        if not self.chat.may_create_topics(self.id):
            raise PermissionError(f"user {self.id} may not create topics in {self.chat.id}")
        return self.world.open_topic(self.chat, self.profile, name, icon_color, None)

    def rename_topic(self, thread: ThreadRef, name: str) -> None:
        topic = self._topic(thread)
        self._require_topic_rights(topic)
        self.world.edit_topic(self.chat, topic, self.profile, name=name, icon=None)

    def close_topic(self, thread: ThreadRef) -> None:
        topic = self._topic(thread)
        self._require_topic_rights(topic)
        self.world.set_topic_closed(self.chat, topic, self.profile, True)

    def reopen_topic(self, thread: ThreadRef) -> None:
        topic = self._topic(thread)
        self._require_topic_rights(topic)
        self.world.set_topic_closed(self.chat, topic, self.profile, False)

    def delete_topic(self, thread: ThreadRef) -> None:
        """Delete a topic by hand, with everything in it (the bot is not told)."""
        topic = self._topic(thread)
        if not self.member.can("can_delete_messages"):
            raise PermissionError(f"user {self.id} may not delete topics in {self.chat.id}")
        self.world.delete_topic(self.chat, topic)
