"""A claim's audit events in words: who did what and when, with names instead of ids."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from backoffice.web.context import WebContext
from backoffice.web.directory import Directory
from backoffice.web.errors import field_label
from shared.audit.models import ClaimEvent

_REFS = {
    "reason_id": "reasons",
    "culprit_department_id": "departments",
    "culprit_employee_id": "employees",
    "responsible_id": "staff",
    "owner_id": "employees",
}
_LABELLED = {"status": "status", "result": "result", "priority": "priority", "remedy": "remedy", "channel": "channel"}
_MONEY = ("amount_claimed", "amount_granted")
_MOMENTS = ("due_at", "resolved_at", "closed_at", "first_response_at", "done_at")
# Bookkeeping in the events' JSON that a reader of the history does not need.
_HIDDEN = ("plan_item_id", "interaction_id", "interaction_ids", "moved", "number", "direction", "attachments")


def _value(c: WebContext, directory: Directory, name: str, value: Any, currency: str) -> str:
    if value is None or value == "":
        return "—"
    if name in _REFS and isinstance(value, int):
        return directory.name(_REFS[name], value)
    if name in _LABELLED and isinstance(value, str):
        key = f"{_LABELLED[name]}.{value}"
        return c.t(key) if c.t.has(key) else value
    if name in _MONEY:
        try:
            return c.fmt.money(Decimal(str(value)), currency)
        except InvalidOperation:
            return str(value)
    if name in _MOMENTS and isinstance(value, str):
        try:
            return c.fmt.datetime(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, bool):
        return c.t("web.yes") if value else c.t("web.no")
    return str(value)


def _actor(c: WebContext, directory: Directory, event: ClaimEvent) -> str:
    if event.actor_kind == "staff" and event.actor_staff_id is not None:
        return directory.name("staff", event.actor_staff_id)
    if event.actor_kind == "customer":
        return c.t("web.history.customer")
    return c.t("web.history.system")


def describe_events(
    events: Sequence[ClaimEvent], directory: Directory, c: WebContext, currency: str = "RUB"
) -> list[dict[str, Any]]:
    described = []
    for event in reversed(events):  # newest first
        before = event.before or {}
        after = event.after or {}
        details = []
        for name in after if after else before:
            if name in _HIDDEN:
                continue
            old = _value(c, directory, name, before.get(name), currency) if name in before else None
            new = _value(c, directory, name, after.get(name), currency) if name in after else "—"
            details.append({"field": field_label(c.t, name), "before": old, "after": new})
        key = f"web.event.{event.kind}"
        described.append(
            {
                "at": event.at,
                "who": _actor(c, directory, event),
                "what": c.t(key) if c.t.has(key) else event.kind,
                "details": details,
            }
        )
    return described
