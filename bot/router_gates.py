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
  `text.split()[0]`); a `StateFilter` or a `State` passes the raw states it names (collected
  up front, as aiogram compares them), and one that passes any state ("*") leaves the observer
  ungated.
A handler with neither (a catch-all, a magic filter alone) leaves its observer ungated. The gate
is only a pre-check: an update it lets through goes through aiogram's routing unchanged, filters
included; an update it refuses goes on to the router's sub-routers, as aiogram would send it.
"""

from __future__ import annotations

from dataclasses import dataclass
from inspect import isclass
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message, TelegramObject


@dataclass(frozen=True, slots=True)
class _Gate:
    """What one of an observer's handlers might take: a command with one of `prefixes`, or an
    update read in one of `states`."""

    prefixes: str
    states: frozenset[str | None]

    def admits(self, event: TelegramObject, data: dict[str, Any]) -> bool:
        if data.get("raw_state") in self.states:
            return True
        if self.prefixes and isinstance(event, Message):
            text = (event.text or event.caption or "").lstrip()
            return bool(text) and text[0] in self.prefixes
        return False


def _states_of(state_filter: StateFilter | State) -> set[str | None] | None:
    """The raw states the filter passes, as aiogram's `StateFilter` and `State` decide; None when
    it passes any state (or has a form not known here, to be safe)."""
    allowed: set[str | None] = set()
    for item in state_filter.states if isinstance(state_filter, StateFilter) else (state_filter,):
        if isinstance(item, State):
            name = item.state
        elif item is None or isinstance(item, str):
            name = item
        elif isinstance(item, StatesGroup) or (isclass(item) and issubclass(item, StatesGroup)):
            group = item if isclass(item) else type(item)
            allowed.update(group.__all_states_names__)
            continue
        else:
            return None
        if name == "*":
            return None
        allowed.add(name)
    return allowed


def observer_gate(observer: TelegramEventObserver) -> _Gate | None:
    if len(observer.outer_middleware) or observer._handler.filters:
        return None
    prefixes: set[str] = set()
    states: set[str | None] = set()
    for handler in observer.handlers:
        for item in handler.filters or ():
            callback = item.callback
            if isinstance(callback, Command):
                prefixes.update(callback.prefix)
                break
            if isinstance(callback, StateFilter | State):
                allowed = _states_of(callback)
                if allowed is None:
                    return None
                states.update(allowed)
                break
        else:
            return None  # a handler the gate cannot tell about: offer everything, as aiogram does
    return _Gate("".join(sorted(prefixes)), frozenset(states))


def gate_routers(root: Router) -> None:
    """Give every router under `root` (itself included) the gates its observers allow. Call it
    once the routers are included and before `run_sync_filters_inline` wraps the filters."""
    for router in root.chain_tail:
        gates = {name: gate for name, observer in router.observers.items() if (gate := observer_gate(observer))}
        if gates:
            _install(router, gates)


def _install(router: Router, gates: dict[str, _Gate]) -> None:
    propagate = router.propagate_event

    async def propagate_event(update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        gate = gates.get(update_type)
        if gate is None or gate.admits(event, kwargs):
            return await propagate(update_type=update_type, event=event, **kwargs)
        # What aiogram does when none of the router's handlers took the event.
        kwargs["event_router"] = router
        for sub in router.sub_routers:
            response = await sub.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                return response
        return UNHANDLED

    router.propagate_event = propagate_event  # type: ignore[method-assign]
