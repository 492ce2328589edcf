"""Browser sandbox: a chat page and a small JSON control API on the emulator's server.

Everything lives under ``/sandbox/``.  The control API is unauthenticated (it is a local
developer tool), so every POST must carry ``X-Sandbox: 1``: a custom header forces a CORS
preflight, which this server never approves, so other web pages cannot drive it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox.chats import Chat, UserProfile
from bot.sandbox.files import MEDIA_KINDS
from bot.sandbox.protocol import JSON
from bot.sandbox.users import UserDriver
from bot.sandbox.world import BotWorld


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


def _message_view(chat: Chat, msg: JSON) -> JSON:
    mid = msg["message_id"]
    view: JSON = {
        "id": mid,
        "from": "bot" if mid in chat.from_bot else "user",
        "date": msg["date"],
        "text": msg.get("text") or msg.get("caption") or "",
        "edited": "edit_date" in msg,
        "buttons": [
            [{k: b[k] for k in ("text", "callback_data", "url") if k in b} for b in row]
            for row in (msg.get("reply_markup") or {}).get("inline_keyboard", [])
        ],
    }
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


class SandboxApi:
    def __init__(self, world: BotWorld) -> None:
        self.world = world

    async def redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/sandbox/")

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            text=PAGE_HTML,
            content_type="text/html",
            headers={
                "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; img-src 'self' blob:"
            },
        )

    def _user(self, user_id: Any) -> UserDriver:
        try:
            uid = int(user_id)
        except (TypeError, ValueError):
            raise web.HTTPBadRequest(text="user_id must be an integer") from None
        chat = self.world.chats.get(uid) or self.world.chat_for(
            UserProfile(id=uid, first_name=f"User {uid}", language_code="en")
        )
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

    async def state(self, request: web.Request) -> web.StreamResponse:
        users = [
            {**c.user.as_user(), "blocked": c.blocked, "messages": len(c.messages)} for c in self.world.chats.values()
        ]
        return web.json_response({"bot": self.world.bot_user, "users": users, "version": self.world.version})

    async def chat(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request.query.get("user_id"))
        since = int(request.query.get("since", "-1"))
        wait = min(25.0, float(request.query.get("wait", "0")))
        if since >= self.world.version and wait > 0:
            await self.world.wait_change(wait)
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
        uid = int(body.get("user_id") or 0)
        if uid <= 0:
            raise web.HTTPBadRequest(text="user_id must be a positive integer")
        profile = UserProfile(
            id=uid,
            first_name=str(body.get("first_name") or f"User {uid}")[:64],
            username=str(body["username"])[:32] if body.get("username") else None,
            language_code=str(body.get("language_code") or "ru")[:8],
        )
        self.world.chat_for(profile)
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


PAGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Telegram sandbox</title>
<style>
 body{margin:0;font:15px/1.4 system-ui,sans-serif;background:#e6ebee;display:flex;justify-content:center}
 #app{width:100%;max-width:640px;height:100vh;display:flex;flex-direction:column;background:#fff}
 header{padding:8px 12px;background:#517da2;color:#fff;display:flex;gap:8px;align-items:center;flex-wrap:wrap}
 header input,header select{font:inherit;padding:2px 4px;width:8em}
 #log{flex:1;overflow-y:auto;padding:12px;background:#dfe7ed}
 .msg{max-width:80%;margin:6px 0;padding:6px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}
 .user{margin-left:auto;background:#effdde}.bot{background:#fff}
 .meta{font-size:11px;color:#888;margin-top:2px}
 .kb{display:flex;flex-direction:column;gap:4px;margin-top:6px}.row{display:flex;gap:4px}
 .row button{flex:1;padding:5px;border:0;border-radius:6px;background:#5b8ab1;color:#fff;cursor:pointer}
 .row a{flex:1;text-align:center;padding:5px;border-radius:6px;background:#8fb0cc;color:#fff}
 #replykb .row button{background:#f0f0f0;color:#222}
 footer{display:flex;gap:6px;padding:8px;border-top:1px solid #ddd}
 footer input[type=text]{flex:1;font:inherit;padding:6px}
 #toast{position:fixed;top:10px;left:50%;transform:translateX(-50%);background:#333;color:#fff;
  padding:6px 12px;border-radius:6px;display:none}
 img.photo{max-width:100%;border-radius:6px;display:block}
</style></head>
<body><div id="app">
<header><b id="botname">Sandbox bot</b>
 <label>user id <input id="uid" type="number" value="1001"></label>
 <label>name <input id="uname" value="Test user"></label>
 <label>lang <select id="ulang"><option>ru</option><option>en</option></select></label>
 <button id="useuser">Open chat</button>
 <label><input type="checkbox" id="blocked"> blocked</label>
</header>
<div id="log"></div>
<div id="replykb" class="kb" style="padding:0 8px"></div>
<footer>
 <input type="text" id="text" placeholder="Message" autocomplete="off">
 <button id="send">Send</button>
 <button id="contact" title="Share phone number">📇</button>
 <label title="Send a file" style="cursor:pointer">📎<input id="file" type="file" hidden></label>
</footer></div>
<div id="toast"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let userId = Number(localStorage.getItem("sandbox_uid") || 1001), version = -1, polling = 0;
$("uid").value = userId;

function toast(text) {
  const t = $("toast"); t.textContent = text; t.style.display = "block";
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { t.style.display = "none"; }, 3000);
}
async function post(path, body) {
  const r = await fetch("/sandbox/api/" + path, {method: "POST",
    headers: {"Content-Type": "application/json", "X-Sandbox": "1"}, body: JSON.stringify(body)});
  if (!r.ok) { toast(await r.text()); }
  return r;
}
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;  // textContent: never interpreted as HTML
  return e;
}
function render(state) {
  const log = $("log"), atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
  log.replaceChildren();
  for (const m of state.messages) {
    const box = el("div", "msg " + m.from);
    if (m.file) {
      if (m.file.kind === "photo") {
        const img = el("img", "photo"); img.alt = "photo";
        img.src = "/sandbox/api/file/" + encodeURIComponent(m.file.file_id); box.append(img);
      } else {
        const a = el("a", "", "📄 " + m.file.name);
        a.href = "/sandbox/api/file/" + encodeURIComponent(m.file.file_id); box.append(a);
      }
    }
    if (m.text) box.append(el("div", "", m.text));
    if (m.buttons.length) {
      const kb = el("div", "kb");
      for (const row of m.buttons) {
        const r = el("div", "row");
        for (const b of row) {
          if (b.callback_data !== undefined) {
            const btn = el("button", "", b.text);
            btn.onclick = () => post("press", {user_id: userId, message_id: m.id, data: b.callback_data});
            r.append(btn);
          } else if (b.url) {
            const a = el("a", "", b.text + " ↗");
            if (/^https?:/.test(b.url)) { a.href = b.url; a.target = "_blank"; a.rel = "noopener"; }
            r.append(a);
          } else { r.append(el("button", "", b.text)); }
        }
        kb.append(r);
      }
      box.append(kb);
    }
    box.append(el("div", "meta", "#" + m.id + (m.edited ? " · edited" : "") + " · " +
      new Date(m.date * 1000).toLocaleTimeString()));
    log.append(box);
  }
  const rk = $("replykb"); rk.replaceChildren();
  if (state.keyboard && state.keyboard.keyboard) {
    for (const row of state.keyboard.keyboard) {
      const r = el("div", "row");
      for (const b0 of row) {
        const b = typeof b0 === "string" ? {text: b0} : b0;
        const btn = el("button", "", b.text + (b.request_contact ? " 📇" : ""));
        btn.onclick = () => post("tap", {user_id: userId, text: b.text});
        r.append(btn);
      }
      rk.append(r);
    }
  }
  const ans = state.answers[state.answers.length - 1];
  if (ans && ans.text && ans.callback_query_id !== render.lastAnswer) {
    render.lastAnswer = ans.callback_query_id; toast(ans.text);
  }
  $("blocked").checked = state.blocked;
  if (atBottom) log.scrollTop = log.scrollHeight;
}
async function poll(gen) {
  while (gen === polling) {
    try {
      const r = await fetch("/sandbox/api/chat?user_id=" + userId + "&since=" + version + "&wait=20");
      if (gen !== polling) return;
      const state = await r.json(); version = state.version; render(state);
    } catch (e) { await new Promise((ok) => setTimeout(ok, 1000)); }
  }
}
async function openChat() {
  userId = Number($("uid").value); localStorage.setItem("sandbox_uid", String(userId));
  await post("users", {user_id: userId, first_name: $("uname").value, language_code: $("ulang").value});
  version = -1; polling += 1; poll(polling);
}
async function sendText() {
  const t = $("text").value; if (!t.trim()) return;
  $("text").value = ""; await post("send", {user_id: userId, text: t});
}
$("send").onclick = sendText;
$("text").addEventListener("keydown", (e) => { if (e.key === "Enter") sendText(); });
$("useuser").onclick = openChat;
$("contact").onclick = () => {
  const phone = prompt("Phone number to share", "+79001234567");
  if (phone) post("contact", {user_id: userId, phone_number: phone});
};
$("blocked").onchange = () => post("block", {user_id: userId, blocked: $("blocked").checked});
$("file").onchange = async () => {
  const f = $("file").files[0]; if (!f) return;
  const fd = new FormData(); fd.append("user_id", String(userId)); fd.append("file", f, f.name);
  const r = await fetch("/sandbox/api/upload", {method: "POST", headers: {"X-Sandbox": "1"}, body: fd});
  if (!r.ok) toast(await r.text());
  $("file").value = "";
};
fetch("/sandbox/api/state").then((r) => r.json()).then((s) => { $("botname").textContent = s.bot.first_name; });
openChat();
</script></body></html>
"""
