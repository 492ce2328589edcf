"""A staff member links their Telegram account: `/link CODE` in a private chat with the bot (the
code from their profile page in the web UI), or the page's deep link (`/start link-CODE`).

Registered first (bot/routers/__init__.py): whatever conversation the sender is in with the bot
(a claim wizard, a question), the code is taken here and never reaches the wizard's steps or the
catch-all, so it is neither stored as a customer's message nor the start of a claim; the
customer middleware does not make a customer of the sender for it either (bot/middlewares.py).
Attempts are throttled per Telegram account (bot/link_attempts.py). The answer is in the staff
member's language once the code names them, else in the sender's Telegram language.
"""

from __future__ import annotations

import math

from aiogram import Router
from aiogram.types import Message, Update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.content import esc
from bot.link_attempts import LinkAttempts
from bot.update_scope import after_commit
from shared.i18n import Translator, get_translator
from shared.staff.linking import DEEP_LINK_PREFIX, LinkOutcome, redeem_link_code


def link_code_in(message: Message | None) -> str | None:
    """The code of a link request (`""` for `/link` without one); None for any other message.
    Only in a private chat: a code posted in a group is not taken (and everyone saw it)."""
    if message is None or not message.text or not message.text.startswith("/") or message.from_user is None:
        return None  # every update passes here (the customer middleware): the common case first
    if message.chat.type != "private":
        return None
    parts = message.text.strip().split(maxsplit=1)
    if not parts:
        return None
    command = parts[0].split("@", 1)[0].lower()
    argument = parts[1].strip() if len(parts) > 1 else ""
    if command == "/link":
        return argument
    if command == "/start" and argument.startswith(DEEP_LINK_PREFIX):
        return argument[len(DEEP_LINK_PREFIX) :]
    return None


def is_link_request(update: Update) -> bool:
    return link_code_in(update.message) is not None


async def link(message: Message, session: AsyncSession, t: Translator, link_attempts: LinkAttempts) -> None:
    assert message.from_user is not None  # link_code_in checked it
    code = link_code_in(message) or ""
    if not code:
        after_commit(message.answer(t("staff.link.usage")))
        return
    wait = await link_attempts.charge(message.from_user.id)
    if wait is not None:
        after_commit(message.answer(t("staff.link.throttled", minutes=math.ceil(wait / 60))))
        return
    result = await redeem_link_code(session, code=code, telegram_user_id=message.from_user.id)
    if result.user is None:
        after_commit(message.answer(t(f"staff.link.{result.outcome.value}")))
        return
    # The code named a staff member: their language (a name only once the link is made).
    t = get_translator(result.user.language)
    name = esc(result.user.full_name or result.user.login) if result.outcome is LinkOutcome.LINKED else ""
    after_commit(message.answer(t(f"staff.link.{result.outcome.value}", name=name)))


def make_router() -> Router:
    router = Router(name="staff_link")
    router.message.register(link, lambda message: link_code_in(message) is not None)
    return router
