"""Pass over routers that cannot take an update before aiogram builds anything for them.

aiogram offers each update to every router in order; each offer builds the router's middleware
chain (`functools.wraps` and partials), copies the handler keyword arguments and checks every
handler's filters one by one. A plain text outside any wizard (nearly every message a customer
sends: bench/bot_ingest.py) was offered to seven routers whose every message handler needs a
command or a wizard state before it reaches the catch-all, and those offers cost more CPU than
routing it.

A router's observer (one update type) gets a gate when aiogram would certainly not call any of
its handlers for an update the gate refuses:
- the observer has no outer middleware and no router-level filter (they would run, and might do
  something, even when no handler matches);
- every handler has a filter whose outcome the gate can tell: a `Command` needs a text or caption
  whose first word starts with one of the command's prefixes (`Command` reads the command from
  `text.split()[0]`), a `StateFilter` or a `State` is evaluated as aiogram evaluates it, on the
  same `raw_state`.
A handler with neither (a catch-all, a magic filter alone) leaves its observer ungated. The gate
is only a pre-check: an update it lets through goes through aiogram's routing unchanged, filters
included; an update it refuses goes on to the router's sub-routers, as aiogram would send it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command, StateFilter
from aiogram.fsm.state import State
from aiogram.types import Message, TelegramObject

# Whether a handler might take the event, given the FSM state the update was read with.
Check = Callable[[TelegramObject, str | None], Awaitable[bool]]
# Whether any handler of an observer might take the event, given the handlers' keyword arguments.
Gate = Callable[[TelegramObject, dict[str, Any]], Awaitable[bool]]


def _command_check(prefix: str) -> Check:
    async def check(event: TelegramObject, raw_state: str | None) -> bool:
        if not isinstance(event, Message):
            return False
        text = (event.text or event.caption or "").lstrip()
        return bool(text) and text[0] in prefix

    return check


def _state_filter_check(state_filter: StateFilter) -> Check:
    async def check(event: TelegramObject, raw_state: str | None) -> bool:
        return bool(await state_filter(event, raw_state=raw_state))

    return check


def _state_check(state: State) -> Check:
    async def check(event: TelegramObject, raw_state: str | None) -> bool:
        return state(event, raw_state=raw_state)

    return check


def _handler_check(handler: HandlerObject) -> Check | None:
    """A necessary condition for the handler's filters to pass, from one filter it has."""
    for item in handler.filters or ():
        callback = item.callback
        if isinstance(callback, Command):
            return _command_check(callback.prefix)
        if isinstance(callback, StateFilter):
            return _state_filter_check(callback)
        if isinstance(callback, State):
            return _state_check(callback)
    return None


def _observer_gate(observer: TelegramEventObserver) -> Gate | None:
    if len(observer.outer_middleware) or observer._handler.filters:
        return None
    checks: list[Check] = []
    for handler in observer.handlers:
        check = _handler_check(handler)
        if check is None:
            return None
        checks.append(check)

    async def admits(event: TelegramObject, data: dict[str, Any]) -> bool:
        raw_state = data.get("raw_state")
        for check in checks:
            if await check(event, raw_state):
                return True
        return False

    return admits


def gate_routers(root: Router) -> None:
    """Give every router under `root` (itself included) the gates its observers allow. Call it
    once the routers are included and before `run_sync_filters_inline` wraps the filters."""
    for router in root.chain_tail:
        gates = {name: gate for name, observer in router.observers.items() if (gate := _observer_gate(observer))}
        if gates:
            _install(router, gates)


def _install(router: Router, gates: dict[str, Gate]) -> None:
    propagate = router.propagate_event

    async def propagate_event(update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        gate = gates.get(update_type)
        if gate is None or await gate(event, kwargs):
            return await propagate(update_type=update_type, event=event, **kwargs)
        # What aiogram does when none of the router's handlers took the event.
        kwargs["event_router"] = router
        for sub in router.sub_routers:
            response = await sub.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                return response
        return UNHANDLED

    router.propagate_event = propagate_event  # type: ignore[method-assign]
