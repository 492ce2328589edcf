"""Browser sandbox: a page showing a customer's private chat with the bot and, beside it, the staff
group (a forum: its topics and the messages in each), with a small JSON control API to act in both.

Everything lives under ``/sandbox/``; the page itself is ``page.html`` (all text goes into the DOM
through ``textContent``, never parsed as HTML: customer texts and names are hostile). The control
API is unauthenticated (a local developer tool), so every POST must carry ``X-Sandbox: 1``: a
custom header forces a CORS preflight, which this server never approves, so other web pages
cannot drive it.
"""

from __future__ import annotations

from importlib.resources import files as package_files
from typing import Any

from aiohttp import web

from bot.sandbox.chats import TOPIC_ICONS, Chat, GroupChat, PrivateChat, UserProfile
from bot.sandbox.files import MEDIA_KINDS
from bot.sandbox.groups import GroupDriver, MemberDriver
from bot.sandbox.protocol import JSON
from bot.sandbox.users import UserDriver
from bot.sandbox.world import BotWorld

PAGE_HTML = package_files("bot.sandbox").joinpath("page.html").read_text(encoding="utf-8")
CSP = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob:"
TOPIC_RIGHTS = ("can_manage_topics", "can_delete_messages", "can_pin_messages")


def add_sandbox_routes(app: web.Application, world: BotWorld) -> None:
    """The page and its control API, acting in ``world`` (the emulator's first bot)."""
    api = SandboxApi(world)
    app.router.add_get("/sandbox", api.redirect)
    app.router.add_get("/sandbox/", api.page)
    app.router.add_get("/sandbox/api/state", api.state)
    app.router.add_get("/sandbox/api/chat", api.chat)
    app.router.add_get("/sandbox/api/file/{file_id}", api.file)
    app.router.add_post("/sandbox/api/users", api.create_user)
    app.router.add_post("/sandbox/api/send", api.send)
    app.router.add_post("/sandbox/api/press", api.press)
    app.router.add_post("/sandbox/api/tap", api.tap)
    app.router.add_post("/sandbox/api/contact", api.contact)
    app.router.add_post("/sandbox/api/upload", api.upload)
    app.router.add_post("/sandbox/api/block", api.block)
    app.router.add_get("/sandbox/api/group", api.group)
    app.router.add_post("/sandbox/api/groups", api.create_group)
    app.router.add_post("/sandbox/api/group/member", api.group_member)
    app.router.add_post("/sandbox/api/group/send", api.group_send)
    app.router.add_post("/sandbox/api/group/press", api.group_press)
    app.router.add_post("/sandbox/api/group/topic", api.group_topic)


_SERVICE = {
    "forum_topic_created": lambda d: f"created the topic «{d.get('name', '')}»",
    "forum_topic_edited": lambda d: f"renamed the topic to «{d['name']}»" if "name" in d else "changed the topic icon",
    "forum_topic_closed": lambda d: "closed the topic",
    "forum_topic_reopened": lambda d: "reopened the topic",
}


def _message_view(chat: Chat, msg: JSON) -> JSON:
    mid = msg["message_id"]
    sender = msg.get("from") or {}
    name = " ".join(filter(None, [sender.get("first_name"), sender.get("last_name")]))
    view: JSON = {
        "id": mid,
        "from": "bot" if mid in chat.from_bot else "user",
        "sender": {"id": sender.get("id"), "name": name},
        "date": msg["date"],
        "text": msg.get("text") or msg.get("caption") or "",
        "edited": "edit_date" in msg,
        "buttons": [
            [{k: b[k] for k in ("text", "callback_data", "url") if k in b} for b in row]
            for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
        ],
    }
    if isinstance(chat, GroupChat):
        view["thread"] = chat.thread_of(msg)
        replied = msg.get("reply_to_message") or {}
        if replied and not any(k in replied for k in _SERVICE):
            quoted = replied.get("text") or replied.get("caption") or ""
            view["reply_to"] = {"id": replied["message_id"], "text": quoted}
    for kind, describe in _SERVICE.items():
        if kind in msg:
            view["service"] = describe(msg[kind])
    for kind in MEDIA_KINDS:
        if kind in msg:
            media = msg[kind][-1] if kind == "photo" else msg[kind]
            view["file"] = {"kind": kind, "file_id": media["file_id"], "name": media.get("file_name") or kind}
    if "contact" in msg:
        c = msg["contact"]
        view["text"] = f"📇 {c.get('first_name', '')} {c['phone_number']}"
    if "location" in msg:
        view["text"] = f"📍 {msg['location']['latitude']}, {msg['location']['longitude']}"
    return view


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"{name} must be an integer") from None


class SandboxApi:
    def __init__(self, world: BotWorld) -> None:
        self.world = world

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/sandbox/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=PAGE_HTML, content_type="text/html", headers={"Content-Security-Policy": CSP})

    def _user(self, user_id: Any) -> UserDriver:
        uid = _int(user_id, "user_id")
        if uid <= 0:
            raise web.HTTPBadRequest(text="user_id must be a positive integer")
        chat = self.world.chats.get(uid)
        if not isinstance(chat, PrivateChat):
            chat = self.world.chat_for(UserProfile(id=uid, first_name=f"User {uid}", language_code="en"))
        return UserDriver(self.world, chat)

    async def _body(self, request: web.Request) -> JSON:
        if request.headers.get("X-Sandbox") != "1":
            raise web.HTTPForbidden(text="missing X-Sandbox header")
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text="JSON body expected") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="JSON object expected")
        return body

    async def _wait(self, request: web.Request) -> None:
        """Long poll: answer once the world changed after ``since`` (or after ``wait`` seconds)."""
        since = _int(request.query.get("since", "-1"), "since")
        wait = min(25.0, float(request.query.get("wait", "0") or 0))
        if since >= self.world.version and wait > 0:
            await self.world.wait_change(wait)

    async def state(self, request: web.Request) -> web.StreamResponse:
        users, groups = [], []
        for c in self.world.chats.values():
            if isinstance(c, GroupChat):
                groups.append({**c.as_chat(), "topics": len(c.topics)})
            elif isinstance(c, PrivateChat):
                users.append({**c.user.as_user(), "blocked": c.blocked, "messages": len(c.messages)})
        return web.json_response(
            {"bot": self.world.bot_user, "users": users, "groups": groups, "version": self.world.version}
        )

    # -- the customer's private chat ---------------------------------------------------------------
    async def chat(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request.query.get("user_id"))
        await self._wait(request)
        chat = user.chat
        return web.json_response(
            {
                "version": self.world.version,
                "user": chat.user.as_user(),
                "blocked": chat.blocked,
                "messages": [_message_view(chat, m) for _, m in sorted(chat.messages.items())],
                "keyboard": chat.reply_keyboard,
                "answers": chat.answers[-5:],
                "last_action": chat.actions[-1] if chat.actions else None,
            }
        )

    async def file(self, request: web.Request) -> web.StreamResponse:
        f = self.world.files.get(request.match_info["file_id"])
        if f is None:
            raise web.HTTPNotFound()
        # Served as an attachment unless it is an image, so uploaded HTML can never run here.
        is_image = (f.mime_type or "").startswith("image/") or f.kind == "photo"
        headers = {"X-Content-Type-Options": "nosniff"}
        if not is_image:
            headers["Content-Disposition"] = f'attachment; filename="{(f.file_name or "file").replace(chr(34), "")}"'
        return web.Response(
            body=f.data,
            content_type="image/png"
            if is_image and f.data[:4] == b"\x89PNG"
            else ("image/jpeg" if is_image else "application/octet-stream"),
            headers=headers,
        )

    async def create_user(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        uid = _int(body.get("user_id") or 0, "user_id")
        if uid <= 0:
            raise web.HTTPBadRequest(text="user_id must be a positive integer")
        profile = UserProfile(
            id=uid,
            first_name=str(body.get("first_name") or f"User {uid}")[:64],
            username=str(body["username"])[:32] if body.get("username") else None,
            language_code=str(body.get("language_code") or "ru")[:8],
        )
        try:
            self.world.chat_for(profile)
        except LookupError as e:
            raise web.HTTPBadRequest(text=str(e)) from None
        self.world.notify()
        return web.json_response({"ok": True, "user": profile.as_user()})

    async def send(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        text = str(body.get("text") or "")
        if not text.strip():
            raise web.HTTPBadRequest(text="text is empty")
        msg = await self._user(body.get("user_id")).send_text(text[:4096])
        return web.json_response({"ok": True, "message_id": msg["message_id"]})

    async def press(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        try:
            qid = await self._user(body.get("user_id")).press(int(body["message_id"]), str(body["data"]))
        except (LookupError, KeyError, ValueError) as e:
            raise web.HTTPBadRequest(text=str(e)) from None
        return web.json_response({"ok": True, "callback_query_id": qid})

    async def tap(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        try:
            msg = await self._user(body.get("user_id")).tap_keyboard(str(body.get("text") or ""))
        except LookupError as e:
            raise web.HTTPBadRequest(text=str(e)) from None
        return web.json_response({"ok": True, "message_id": msg["message_id"]})

    async def contact(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        phone = str(body.get("phone_number") or "").strip()
        if not phone:
            raise web.HTTPBadRequest(text="phone_number is empty")
        msg = await self._user(body.get("user_id")).send_contact(phone[:32])
        return web.json_response({"ok": True, "message_id": msg["message_id"]})

    async def upload(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Sandbox") != "1":
            raise web.HTTPForbidden(text="missing X-Sandbox header")
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise web.HTTPBadRequest(text="file expected")
        user = self._user(form.get("user_id"))
        data = upload.file.read()
        caption = str(form.get("caption") or "") or None
        if (upload.content_type or "").startswith("image/"):
            msg = await user.send_photo(data, caption=caption)
        else:
            msg = await user.send_document(data, upload.filename or "file", upload.content_type, caption=caption)
        return web.json_response({"ok": True, "message_id": msg["message_id"]})

    async def block(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        user = self._user(body.get("user_id"))
        if body.get("blocked"):
            user.block()
        else:
            user.unblock()
        return web.json_response({"ok": True, "blocked": user.blocked})

    # -- the staff group ---------------------------------------------------------------------------
    def _group(self, chat_id: Any) -> GroupDriver:
        try:
            return GroupDriver(self.world, self.world.group_chat(_int(chat_id, "chat_id")))
        except LookupError as e:
            raise web.HTTPNotFound(text=str(e)) from None

    def _member(self, body: JSON) -> MemberDriver:
        group = self._group(body.get("chat_id"))
        uid = _int(body.get("user_id"), "user_id")
        if group.chat.member(uid) is None or not group.chat.members[uid].present:
            raise web.HTTPBadRequest(text=f"user {uid} is not in the group: join it first")
        return group.member(uid)

    async def group(self, request: web.Request) -> web.StreamResponse:
        chat = self._group(request.query.get("chat_id")).chat
        await self._wait(request)
        me = chat.member(self.world.bot_id)
        return web.json_response(
            {
                "version": self.world.version,
                "group": chat.as_chat(),
                "bot": {
                    "status": me.status if me else "left",
                    "rights": {r: me.can(r) for r in TOPIC_RIGHTS} if me else {},
                },
                "members": [
                    {**m.user, "status": m.status, "can_manage_topics": m.can("can_manage_topics")}
                    for m in chat.members.values()
                    if not m.user.get("is_bot")
                ],
                "topics": [
                    {
                        "id": t.thread_id,
                        "name": t.name,
                        "closed": t.closed,
                        "color": f"#{t.icon_color:06x}",
                        "icon": TOPIC_ICONS.get(t.icon_custom_emoji_id or ""),
                    }
                    for t in sorted(chat.topics.values(), key=lambda t: t.thread_id)
                ],
                "messages": [_message_view(chat, m) for _, m in sorted(chat.messages.items())],
                "answers": chat.answers[-5:],
            }
        )

    async def create_group(self, request: web.Request) -> web.StreamResponse:
        """A forum supergroup created by the page's person, with the bot an administrator (that
        manages topics, or not)."""
        body = await self._body(request)
        chat_id = _int(body.get("chat_id"), "chat_id")
        if chat_id >= 0:
            raise web.HTTPBadRequest(text="a group's chat_id is negative (supergroups: -100...)")
        owner = UserProfile(_int(body.get("owner_id") or 1000, "owner_id"), str(body.get("owner_name") or "Owner")[:64])
        try:
            chat = self.world.new_group(chat_id, str(body.get("title") or "Staff")[:128], is_forum=True, owner=owner)
        except LookupError as e:
            raise web.HTTPBadRequest(text=str(e)) from None
        manage = bool(body.get("can_manage_topics", True))
        GroupDriver(self.world, chat).set_bot(
            "administrator", can_manage_topics=manage, can_delete_messages=True, can_pin_messages=True
        )
        return web.json_response({"ok": True, "group": chat.as_chat()})

    async def group_member(self, request: web.Request) -> web.StreamResponse:
        """Join the group as a staff member (or change one's name or admin rights)."""
        body = await self._body(request)
        group = self._group(body.get("chat_id"))
        uid = _int(body.get("user_id"), "user_id")
        if uid <= 0:
            raise web.HTTPBadRequest(text="user_id must be a positive integer")
        admin = bool(body.get("admin"))
        member = group.member(
            uid,
            str(body.get("first_name") or f"User {uid}")[:64],
            admin=admin,
            **({"can_manage_topics": True, "can_delete_messages": True} if admin else {}),
        )
        return web.json_response({"ok": True, "user": member.profile})

    async def group_send(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        member = self._member(body)
        text = str(body.get("text") or "")
        if not text.strip():
            raise web.HTTPBadRequest(text="text is empty")
        thread = body.get("thread_id")
        reply_to = body.get("reply_to")
        try:
            msg = await member.in_topic(_int(thread, "thread_id") if thread is not None else None).send_text(
                text[:4096], reply_to=_int(reply_to, "reply_to") if reply_to is not None else None
            )
        except (LookupError, PermissionError) as e:
            raise web.HTTPBadRequest(text=str(e)) from None
        return web.json_response({"ok": True, "message_id": msg["message_id"]})

    async def group_press(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        member = self._member(body)
        try:
            qid = await member.press(_int(body.get("message_id"), "message_id"), str(body.get("data")))
        except LookupError as e:
            raise web.HTTPBadRequest(text=str(e)) from None
        return web.json_response({"ok": True, "callback_query_id": qid})

    async def group_topic(self, request: web.Request) -> web.StreamResponse:
        """create (with ``name``), close or reopen (``thread_id``) a topic, as the staff member."""
        body = await self._body(request)
        member = self._member(body)
        action = body.get("action")
        try:
            if action == "create":
                name = " ".join(str(body.get("name") or "").split())[:128]
                if not name:
                    raise web.HTTPBadRequest(text="name is empty")
                topic = member.create_topic(name)
                return web.json_response({"ok": True, "thread_id": topic.thread_id})
            thread = _int(body.get("thread_id"), "thread_id")
            if action == "close":
                member.close_topic(thread)
            elif action == "reopen":
                member.reopen_topic(thread)
            else:
                raise web.HTTPBadRequest(text="action must be create, close or reopen")
        except (LookupError, PermissionError) as e:
            raise web.HTTPBadRequest(text=str(e)) from None
        return web.json_response({"ok": True})
