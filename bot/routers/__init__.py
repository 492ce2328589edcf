"""The bot's routers, in the order the dispatcher tries them.

Convention (one line to add a router): put the module's dotted name in `ROUTERS`. A module
provides either `make_router() -> Router` (preferred: a fresh router per Dispatcher, so tests and
restarts can build several dispatchers in one process) or a module-level `router` (attached to
one dispatcher only). Handlers receive `session` (the update's transaction), `customer`, `t`
(the customer's translator), `state` (FSM) and `replies` (the throttle for unsolicited replies).

Order matters: the staff group's router first (it takes all of that group), command and wizard
routers next, feature routers next, and `messages`, the catch-all that stores every other
message as an interaction, always last.
"""

from __future__ import annotations

import importlib

from aiogram import Router

ROUTERS: tuple[str, ...] = (
    "bot.routers.staff_group",  # every update of the staff group (STAFF_CHAT_ID): its topics
    "bot.routers.staff_link",  # /link CODE (and /start link-CODE): staff link Telegram; before any wizard
    "bot.routers.start",  # /start (with deep link) and the menu
    "bot.routers.help",  # /help
    "bot.routers.lang",  # /lang
    "bot.routers.my_claims",  # My claims, claim card, "Write about this claim"
    "bot.routers.intake",  # File a claim wizard (and /cancel everywhere); its steps catch all content
    "bot.routers.decision",  # Accept / Dispute a decision (and the dispute reason)
    "bot.routers.survey",  # rating 1-5 after closing, optional comment
    "bot.routers.messages",  # catch-all: keep last
)


def build_routers(names: tuple[str, ...] = ROUTERS) -> list[Router]:
    routers: list[Router] = []
    for name in names:
        module = importlib.import_module(name)
        factory = getattr(module, "make_router", None)
        routers.append(factory() if factory is not None else module.router)
    return routers
