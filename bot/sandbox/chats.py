"""The chats one bot is in: private chats with users, and supergroups (forums with topics), with
their members, their messages (both sides) and what the bot sent there."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.sandbox.ids import clock_start
from bot.sandbox.protocol import JSON

# Administrator rights, in the order of the Bot API's ChatMemberAdministrator. Those from
# can_manage_chat to can_send_welcome_messages are always present there; the rest when true.
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_send_welcome_messages",
    "can_pin_messages",
    "can_manage_topics",
)
_ALWAYS_LISTED = ADMIN_RIGHTS[: ADMIN_RIGHTS.index("can_send_welcome_messages") + 1]

# The topic icon colours Telegram accepts (createForumTopic's icon_color); the first is its default.
TOPIC_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
# The custom emoji Telegram offers as topic icons (getForumTopicIconStickers): id -> emoji.
TOPIC_ICONS = {
    "5312536423851630001": "💬",
    "5312241539987020022": "🔥",
    "5377498341074542641": "⏳",
    "5237699328843200968": "✅",
    "5379748062124056162": "❗",
    "5309832892262654231": "🔒",
    "5350305691942788490": "📝",
    "5357121491508928442": "👀",
}


@dataclass
class SentMessage:
    """A message the bot sent, as the user sees it now (edits update it in place)."""

    message_id: int
    chat_id: int
    kind: str  # text, photo, document, video, voice, audio, sticker, animation, contact, ...
    date: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    entities: list[JSON] = field(default_factory=list)
    reply_markup: JSON | None = None  # as sent: inline, reply keyboard, remove/force reply
    media_group_id: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    history: list[JSON] = field(default_factory=list)  # earlier versions, oldest first
    raw: JSON = field(default_factory=dict)  # the Message object as the Bot API returned it
    method: str = "sendMessage"
    message_thread_id: int | None = None  # the forum topic it went to (supergroups)

    @property
    def content(self) -> str | None:
        """Text, or caption of a media message."""
        return self.text if self.text is not None else self.caption

    @property
    def buttons(self) -> list[JSON]:
        """Inline keyboard buttons, row by row flattened."""
        if not self.reply_markup or "inline_keyboard" not in self.reply_markup:
            return []
        return [b for row in self.reply_markup["inline_keyboard"] for b in row]

    @property
    def keyboard_buttons(self) -> list[JSON]:
        """Reply keyboard buttons (strings normalised to ``{"text": ...}``)."""
        if not self.reply_markup or "keyboard" not in self.reply_markup:
            return []
        return [b if isinstance(b, dict) else {"text": b} for row in self.reply_markup["keyboard"] for b in row]

    def button(self, text: str) -> JSON:
        for b in self.buttons:
            if b.get("text") == text:
                return b
        raise LookupError(f"no inline button {text!r} in message {self.message_id}: {self.buttons}")


@dataclass
class UserProfile:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False

    def as_user(self) -> JSON:
        d: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (v := getattr(self, key)) is not None:
                d[key] = v
        if self.is_premium:
            d["is_premium"] = True
        return d

    def as_chat(self) -> JSON:
        d: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        return d


@dataclass(kw_only=True)
class Chat:
    """What every chat keeps: its messages (both sides) and what the bot sent and was answered."""

    # Message ids never repeat in a chat, not even across restarts (ids.py).
    next_message_id: int = field(default_factory=clock_start)
    messages: dict[int, JSON] = field(default_factory=dict)  # every live message, both sides
    from_bot: set[int] = field(default_factory=set)
    sent: list[SentMessage] = field(default_factory=list)
    sent_by_id: dict[int, SentMessage] = field(default_factory=dict)
    read_cursor: int = 0
    answers: list[JSON] = field(default_factory=list)  # answerCallbackQuery calls for presses here
    actions: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        raise NotImplementedError

    def as_chat(self) -> JSON:
        """The Chat object messages and updates carry."""
        raise NotImplementedError

    def new_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid


@dataclass(kw_only=True)
class PrivateChat(Chat):
    """The private chat between the bot and one user (one message id sequence for both sides)."""

    user: UserProfile
    reply_keyboard: JSON | None = None  # what the user's keyboard currently shows
    blocked: bool = False
    deactivated: bool = False
    started: bool = False  # the user has written to the bot at least once

    @property
    def id(self) -> int:
        return self.user.id

    def as_chat(self) -> JSON:
        return self.user.as_chat()


@dataclass
class Member:
    """Someone's place in a supergroup: status (creator, administrator, member, left, kicked) and,
    for an administrator, its rights."""

    user: JSON  # the User object (a person's, or the bot's own)
    status: str = "member"
    rights: dict[str, bool] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.status in ("creator", "administrator")

    @property
    def present(self) -> bool:
        return self.status in ("creator", "administrator", "member")

    def can(self, right: str) -> bool:
        """The creator can do everything; an administrator what its rights say; others nothing."""
        return self.status == "creator" or (self.status == "administrator" and self.rights.get(right, False))

    def as_chat_member(self) -> JSON:
        """The ChatMember object (getChatMember, chat member updates)."""
        d: JSON = {"user": self.user, "status": self.status}
        if self.status == "creator":
            d["is_anonymous"] = False
        elif self.status == "administrator":
            d["can_be_edited"] = False
            d["is_anonymous"] = False
            for right in ADMIN_RIGHTS:
                value = self.rights.get(right, False)
                if value or right in _ALWAYS_LISTED:
                    d[right] = value
        elif self.status == "kicked":
            d["until_date"] = 0
        return d


@dataclass
class Topic:
    """A forum topic: the message that created it gives its id (message_thread_id)."""

    thread_id: int
    name: str
    icon_color: int
    created_by: int  # user id (the bot's id for the bot's topics)
    icon_custom_emoji_id: str | None = None
    closed: bool = False

    def as_forum_topic(self) -> JSON:
        d: JSON = {"message_thread_id": self.thread_id, "name": self.name, "icon_color": self.icon_color}
        if self.icon_custom_emoji_id:
            d["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return d


@dataclass(kw_only=True)
class GroupChat(Chat):
    """A supergroup (a forum when ``is_forum``): members with their rights, and topics."""

    chat_id: int
    title: str
    is_forum: bool = False
    members: dict[int, Member] = field(default_factory=dict)  # by user id, the bot's own included
    topics: dict[int, Topic] = field(default_factory=dict)  # live topics by message_thread_id
    # What members who are no administrators may do (ChatPermissions); topics need admins by default.
    permissions: JSON = field(
        default_factory=lambda: {
            "can_send_messages": True,
            "can_send_photos": True,
            "can_send_documents": True,
            "can_send_other_messages": True,
            "can_invite_users": True,
            "can_pin_messages": False,
            "can_manage_topics": False,
        }
    )

    @property
    def id(self) -> int:
        return self.chat_id

    def as_chat(self) -> JSON:
        d: JSON = {"id": self.chat_id, "type": "supergroup", "title": self.title}
        if self.is_forum:
            d["is_forum"] = True
        return d

    def member(self, user_id: int) -> Member | None:
        return self.members.get(user_id)

    def may_create_topics(self, user_id: int) -> bool:
        m = self.members.get(user_id)
        if m is None or not m.present:
            return False
        return m.can("can_manage_topics") or (not m.is_admin and bool(self.permissions.get("can_manage_topics")))

    def may_post_in(self, topic: Topic, user_id: int) -> bool:
        """A closed topic takes messages only from its creator and administrators who manage topics."""
        if not topic.closed:
            return True
        m = self.members.get(user_id)
        return topic.created_by == user_id or (m is not None and m.can("can_manage_topics"))

    def thread_of(self, message: JSON) -> int | None:
        """The forum topic a message is in (None: the General topic, or no forum)."""
        return message.get("message_thread_id") if message.get("is_topic_message") else None

    def thread_fields(self, thread_id: int | None, reply_to: int | None) -> JSON:
        """Fields of a new message in ``thread_id`` (a topic, or None) replying to ``reply_to``.

        As Telegram's Bot API shows them: a message in a topic has ``message_thread_id`` and
        ``is_topic_message``, and one that answers nothing else replies to the topic's creation
        message; a reply outside topics carries the id of the thread it starts or continues.
        """
        fields: JSON = {}
        if thread_id is not None:
            fields["message_thread_id"] = thread_id
            fields["is_topic_message"] = True
            target = reply_to if reply_to is not None else thread_id
        else:
            target = reply_to
            if reply_to is not None and reply_to in self.messages:
                replied = self.messages[reply_to]
                fields["message_thread_id"] = replied.get("message_thread_id", reply_to)
        if target is not None and target in self.messages:
            fields["reply_to_message"] = strip_reply(self.messages[target])
        return fields


def strip_reply(msg: JSON) -> JSON:
    """A message as embedded in ``reply_to_message`` (Telegram does not nest further)."""
    return {k: v for k, v in msg.items() if k != "reply_to_message"}
