"""The claims-list filters: one definition shared by the claims list, the export and every report."""

from __future__ import annotations

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


_ID_FIELDS = ("reason_id", "culprit_department_id", "culprit_employee_id", "responsible_id", "customer_id")
_TEXT_LIST = ARRAY(String)
# Constants in the SQL text (not parameters): the planner matches them with partial indexes.
_OPEN_STATUSES = [literal_column(f"'{status.value}'") for status in OPEN_STATUSES]


def search_text(filters: ClaimFilters) -> str | None:
    """What to search for: the typed words, or None when nothing but blanks was typed."""
    return filters.q.strip() if filters.q and filters.q.strip() else None


def claim_conditions(filters: ClaimFilters, tz: ZoneInfo, claim: Any = Claim) -> list[ColumnElement[bool]]:
    """The filters as WHERE conditions on the claim (the claims list, the export, every report);
    `claim`: the Claim entity, or the columns of a subquery or CTE over it (`subquery.c`)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(claim.status == func.any(literal(list(filters.status), _TEXT_LIST)))
    if filters.result:
        conditions.append(claim.result == func.any(literal(list(filters.result), _TEXT_LIST)))
    for field in _ID_FIELDS:
        value = getattr(filters, field)
        if value is not None:
            conditions.append(getattr(claim, field) == literal(value, BigInteger()))
    if filters.channel:
        conditions.append(claim.channel == literal(filters.channel, String()))
    moment = DateTime(timezone=True)
    if filters.registered_from:
        conditions.append(claim.registered_at >= literal(start_of_local_day(filters.registered_from, tz), moment))
    if filters.registered_to:
        before = start_of_local_day(filters.registered_to + timedelta(days=1), tz)
        conditions.append(claim.registered_at < literal(before, moment))
    if filters.overdue is not None:
        late = and_(claim.status.in_(_OPEN_STATUSES), claim.due_at < literal(utcnow(), moment))
        conditions.append(late if filters.overdue else ~late)
    if filters.unassigned is not None:
        conditions.append(claim.responsible_id.is_(None) if filters.unassigned else claim.responsible_id.is_not(None))
    q = search_text(filters)
    if q is not None:
        query = search_query(literal(q, String()))
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
                claim.search_vector.op("@@")(query),
                claim.id == func.any(func.array(in_interactions.scalar_subquery())),
            )
        )
    return conditions
