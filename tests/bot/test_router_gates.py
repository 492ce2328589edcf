"""bot/router_gates.py: a gated dispatcher routes every update exactly as aiogram alone does."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import Update

from bot.app import run_sync_filters_inline
from bot.router_gates import gate_routers, observer_gate

TOKEN = "42:GATES"


class Form(StatesGroup):
    first = State()
    second = State()


class Other(StatesGroup):
    only = State()


def _routers(seen: list[str]) -> list[Router]:
    def record(name: str) -> Any:
        async def handler(*_: Any, **__: Any) -> None:
            seen.append(name)

        return handler

    commands = Router(name="commands")
    commands.message.register(record("start"), CommandStart())
    commands.message.register(record("help"), Command("help", prefix="/!"))
    wizard = Router(name="wizard")
    wizard.message.register(record("cancel"), Command("cancel"))
    wizard.message.register(record("first"), StateFilter(Form.first))
    wizard.message.register(record("group"), StateFilter(Form))
    other = Router(name="other")
    other.message.register(record("only"), Other.only, F.text)
    other.message.register(record("by-name"), StateFilter("Raw:name", None), F.text == "plain by name")
    nested = Router(name="nested-parent")
    nested.message.register(record("parent"), Command("parent"))
    child = Router(name="nested-child")
    child.message.register(record("child"), F.text == "child")
    nested.include_router(child)
    anything = Router(name="anything")
    anything.message.register(record("any-state"), StateFilter("*"), F.text == "any state")
    last = Router(name="last")
    last.message.register(record("catch-all"))
    return [commands, wizard, other, nested, anything, last]


def _update(n: int, *, text: str | None = None, caption: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": n,
        "date": 0,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "A"},
    }
    if text is not None:
        message["text"] = text
    if caption is not None:
        message["caption"] = caption
        message["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    return {"update_id": n, "message": message}


CASES: list[tuple[str | None, dict[str, str]]] = [
    (None, {"text": "hello"}),
    (None, {"text": "/start"}),
    (None, {"text": "  /help me"}),
    (None, {"text": "!help"}),
    (None, {"caption": "/cancel"}),
    (None, {"caption": "a photo"}),
    (None, {"text": "plain by name"}),
    (None, {"text": "child"}),
    (None, {"text": "/parent"}),
    (None, {"text": "any state"}),
    (None, {"text": "/unknown"}),
    (Form.first.state, {"text": "hello"}),
    (Form.second.state, {"text": "hello"}),
    (Form.second.state, {"text": "/cancel"}),
    (Other.only.state, {"text": "hi"}),
    (Other.only.state, {"caption": "hi"}),
    ("Raw:name", {"text": "plain by name"}),
    ("Raw:other", {"text": "plain by name"}),
]


@pytest.mark.parametrize(("state", "content"), CASES)
async def test_gated_routing_matches_aiogram(state: str | None, content: dict[str, str]) -> None:
    bot = Bot(TOKEN)
    try:
        outcomes = []
        for gated in (False, True):
            seen: list[str] = []
            storage = MemoryStorage()
            dp = Dispatcher(storage=storage)
            dp.include_routers(*_routers(seen))
            if gated:
                gate_routers(dp)
            run_sync_filters_inline(dp)
            await storage.set_state(StorageKey(bot_id=bot.id, chat_id=5, user_id=5), state)
            update = Update.model_validate(_update(1, **content), context={"bot": bot})
            await dp.feed_update(bot, update)
            outcomes.append(seen)
        assert outcomes[0] == outcomes[1] and len(outcomes[0]) == 1
    finally:
        await bot.session.close()


def test_which_observers_are_gated() -> None:
    dp = Dispatcher()
    commands, wizard, other, nested, anything, last = _routers([])
    dp.include_routers(commands, wizard, other, nested, anything, last)
    assert observer_gate(dp.message) is not None  # no handlers: nothing to offer
    gate = observer_gate(wizard.message)
    assert gate is not None and gate.prefixes == "/" and gate.states == {Form.first.state, Form.second.state}
    assert observer_gate(commands.message) is not None and observer_gate(commands.message).prefixes == "!/"
    assert observer_gate(other.message).states == {Other.only.state, "Raw:name", None}
    assert observer_gate(anything.message) is None  # "*": any state
    assert observer_gate(last.message) is None  # a catch-all
    guarded = Router()
    guarded.message.register(lambda: None, Command("x"))
    guarded.message.outer_middleware(lambda handler, event, data: handler(event, data))
    assert observer_gate(guarded.message) is None  # the middleware runs for every update
