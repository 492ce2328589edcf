"""The claims-list filters: one definition shared by the claims list, the export and every report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select

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


def search_query(q: str) -> ColumnElement:
    """A tsquery matching Russian or English word forms of what the user typed."""
    russian = func.websearch_to_tsquery(literal_column("'russian'::regconfig"), q)
    return russian.op("||")(func.websearch_to_tsquery(literal_column("'english'::regconfig"), q))


def claim_conditions(filters: ClaimFilters, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status:
        conditions.append(Claim.status.in_(filters.status))
    if filters.result:
        conditions.append(Claim.result.in_(filters.result))
    for field in ("reason_id", "culprit_department_id", "culprit_employee_id", "responsible_id", "customer_id"):
        value = getattr(filters, field)
        if value is not None:
            conditions.append(getattr(Claim, field) == value)
    if filters.channel:
        conditions.append(Claim.channel == filters.channel)
    if filters.registered_from:
        conditions.append(Claim.registered_at >= start_of_local_day(filters.registered_from, tz))
    if filters.registered_to:
        conditions.append(Claim.registered_at < start_of_local_day(filters.registered_to + timedelta(days=1), tz))
    if filters.overdue is not None:
        late = and_(Claim.status.in_(OPEN_STATUSES), Claim.due_at < utcnow())
        conditions.append(late if filters.overdue else ~late)
    if filters.unassigned is not None:
        conditions.append(Claim.responsible_id.is_(None) if filters.unassigned else Claim.responsible_id.is_not(None))
    if filters.q and filters.q.strip():
        query = search_query(filters.q.strip())
        # Two GIN-indexed look-ups joined by a BitmapOr: the claim's own vector, and the claims whose
        # interactions match (their ids computed once: ARRAY(...) is an init plan, probed through the
        # primary key). `vector @@ q OR EXISTS (...)` could use neither index and scanned every
        # claim and every interaction; ids collected first and fetched back by primary key cost a
        # second visit to every matching claim.
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
