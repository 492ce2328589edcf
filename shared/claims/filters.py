"""The claims-list filters: one definition shared by the claims list, the export and every report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, DateTime, String, and_, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from shared.claims.models import Claim
from shared.claims.workflow import OPEN_STATUSES
from shared.clock import start_of_local_day, utcnow
from shared.interactions.models import Interaction


@dataclass(frozen=True, slots=True)
class ClaimFilters:
    status: tuple[str, ...] = ()
    result: tuple[str, ...] = ()
    reason_id: int | None = None
    culprit_department_id: int | None = None
    culprit_employee_id: int | None = None
    responsible_id: int | None = None
    customer_id: int | None = None
    channel: str | None = None
    registered_from: date | None = None  # inclusive, a date in TIMEZONE
    registered_to: date | None = None  # inclusive, a date in TIMEZONE
    overdue: bool | None = None
    unassigned: bool | None = None
    q: str | None = None


def search_query(q: str | ColumnElement) -> ColumnElement:
    """A tsquery matching Russian or English word forms of what the user typed."""
    russian = func.websearch_to_tsquery(literal_column("'russian'::regconfig"), q)
    return russian.op("||")(func.websearch_to_tsquery(literal_column("'english'::regconfig"), q))


def filter_values(filters: ClaimFilters, tz: ZoneInfo) -> dict[str, Any]:
    """The values the set filters compare with, by name: its keys are the shape of the filter.

    `conditions_for(values, arg)` turns them into SQL; the claims list builds that SQL once per
    shape with bind parameters (`shared.claims.queries`), everything else with the values inline.
    """
    values: dict[str, Any] = {}
    if filters.status:
        values["status"] = list(filters.status)
    if filters.result:
        values["result"] = list(filters.result)
    for field in _ID_FIELDS:
        value = getattr(filters, field)
        if value is not None:
            values[field] = value
    if filters.channel:
        values["channel"] = filters.channel
    if filters.registered_from:
        values["registered_from"] = start_of_local_day(filters.registered_from, tz)
    if filters.registered_to:
        values["registered_before"] = start_of_local_day(filters.registered_to + timedelta(days=1), tz)
    if filters.overdue is not None:
        values["overdue_at" if filters.overdue else "not_overdue_at"] = utcnow()
    if filters.unassigned is not None:
        values["unassigned" if filters.unassigned else "assigned"] = True
    if filters.q and filters.q.strip():
        values["q"] = filters.q.strip()
    return values


_ID_FIELDS = ("reason_id", "culprit_department_id", "culprit_employee_id", "responsible_id", "customer_id")
_TEXT_LIST = ARRAY(String)
# Constants in the SQL text (not parameters): the planner matches them with partial indexes.
_OPEN = Claim.status.in_([literal_column(f"'{status.value}'") for status in OPEN_STATUSES])


def conditions_for(values: dict[str, Any], arg: Callable[[str, Any], ColumnElement]) -> list[ColumnElement[bool]]:
    """The WHERE conditions of `filter_values`: `arg(name, type)` stands for the value of `name`."""
    conditions: list[ColumnElement[bool]] = []
    if "status" in values:
        conditions.append(Claim.status == func.any(arg("status", _TEXT_LIST)))
    if "result" in values:
        conditions.append(Claim.result == func.any(arg("result", _TEXT_LIST)))
    for field in _ID_FIELDS:
        if field in values:
            conditions.append(getattr(Claim, field) == arg(field, BigInteger()))
    if "channel" in values:
        conditions.append(Claim.channel == arg("channel", String()))
    if "registered_from" in values:
        conditions.append(Claim.registered_at >= arg("registered_from", DateTime(timezone=True)))
    if "registered_before" in values:
        conditions.append(Claim.registered_at < arg("registered_before", DateTime(timezone=True)))
    for name, wanted in (("overdue_at", True), ("not_overdue_at", False)):
        if name in values:
            late = and_(_OPEN, Claim.due_at < arg(name, DateTime(timezone=True)))
            conditions.append(late if wanted else ~late)
    if "unassigned" in values:
        conditions.append(Claim.responsible_id.is_(None))
    if "assigned" in values:
        conditions.append(Claim.responsible_id.is_not(None))
    if "q" in values:
        query = search_query(arg("q", String()))
        # Two GIN-indexed look-ups joined by a BitmapOr: the claim's own vector, and the claims whose
        # interactions match (their ids computed once: ARRAY(...) is an init plan, probed through the
        # primary key). The interactions' words are not copied onto the claim: that would update
        # the claim row (and every index on it) for each message a customer sends, the desk's most
        # frequent write, to speed up a staff search.
        in_interactions = select(Interaction.claim_id).where(
            Interaction.claim_id.is_not(None), Interaction.search_vector.op("@@")(query)
        )
        conditions.append(
            or_(
                Claim.search_vector.op("@@")(query),
                Claim.id == func.any(func.array(in_interactions.scalar_subquery())),
            )
        )
    return conditions


def claim_conditions(filters: ClaimFilters, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    """The filters as WHERE conditions with their values inline (reports, export)."""
    values = filter_values(filters, tz)
    return conditions_for(values, lambda name, type_: literal(values[name], type_))
