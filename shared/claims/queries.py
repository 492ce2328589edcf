"""Reading claims for the back-office: the filtered, searched, keyset-paginated list with its total,
one claim with its customer, and a claim's timeline (interactions, plan, audit events).

`list_statement` is the list's SQL (the API's `list_claims` and the bench's bare handler run it);
`list_claims` executes it with the request's session.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Select, func, literal, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from shared.audit.models import ClaimEvent
from shared.claims.filters import ClaimFilters, claim_conditions, search_text
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.errors import InvalidValue, NotFound
from shared.interactions.models import Attachment, Interaction
from shared.plans.models import PlanItem

# A claim without a due date sorts after every dated one.
_NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)


def _sort_key(claim: Any, name: str) -> Any:
    """The expression a sort orders by, on the Claim entity or an alias of it."""
    if name == "due_at":
        # The constant in the SQL text, not a parameter: plans (and any expression index) see it.
        return func.coalesce(claim.due_at, literal_column(f"'{_NO_DUE.isoformat()}'::timestamptz", Claim.due_at.type))
    return getattr(claim, name)


# The sorts, and the type of a cursor's sort value (checked before it goes into the statement).
_CURSOR_TYPES: dict[str, type] = {
    "registered_at": datetime,
    "updated_at": datetime,
    "due_at": datetime,
    "number": str,
    "id": int,
}
SORT_CHOICES = tuple(_CURSOR_TYPES) + tuple(f"-{name}" for name in _CURSOR_TYPES)

LIST_COLUMNS = (
    Claim.id,
    Claim.number,
    Claim.status,
    Claim.result,
    Claim.subject,
    Claim.channel,
    Claim.priority,
    Claim.customer_id,
    Customer.name.label("customer_name"),
    Claim.reason_id,
    Claim.culprit_department_id,
    Claim.culprit_employee_id,
    Claim.responsible_id,
    Claim.registered_at,
    Claim.due_at,
    Claim.updated_at,
    Claim.version,
)

# A search's own index look-up keeps these filters (see `list_statement`).
_SEARCH_NARROWING = ("customer_id", "reason_id", "culprit_department_id", "culprit_employee_id", "responsible_id")
# What a search keeps of the claims it found: every column the other filters and the sorts read.
_FOUND_COLUMNS = (
    Claim.id,
    Claim.number,
    Claim.status,
    Claim.result,
    Claim.channel,
    Claim.registered_at,
    Claim.updated_at,
    Claim.due_at,
    Claim.responsible_id,
)

# The total is counted up to this many claims; beyond, it says "more than 10,000" (total_exact false),
# as GitLab's and Elasticsearch's do: counting a broad filter on a large desk would read every
# matching index entry on each page, to print a number nobody pages through.
TOTAL_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class ClaimPage:
    items: list[dict[str, Any]]  # LIST_COLUMNS by name
    total: int  # claims matching the filters, at most TOTAL_LIMIT
    total_exact: bool  # False: more than TOTAL_LIMIT match (total is TOTAL_LIMIT)
    next_cursor: str | None


def _encode_cursor(sort: str, value: Any, ident: int) -> str:
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps([sort, value, ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, ident = json.loads(raw)
        if cursor_sort != sort:
            raise ValueError
        if not isinstance(ident, int) or isinstance(ident, bool) or ident < 0:
            raise ValueError
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        if not isinstance(value, _CURSOR_TYPES[sort.lstrip("-")]) or isinstance(value, bool):
            raise ValueError
        _check_cursor_value(value, ident)
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, OverflowError):
        raise InvalidValue("cursor", "not a cursor of this list and sort") from None
    return value, ident


# A cursor comes back from the client: only values the columns can hold go to the database (a
# value the driver cannot encode, far dates and 80-bit integers, fails mid-statement).
_MAX_BIGINT = 2**63 - 1


def _check_cursor_value(value: Any, ident: int) -> None:
    if ident > _MAX_BIGINT:
        raise ValueError
    if isinstance(value, int) and not -_MAX_BIGINT <= value <= _MAX_BIGINT:
        raise ValueError
    if isinstance(value, datetime) and (value.tzinfo is None or not 1900 <= value.year <= 9998):
        raise ValueError
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
        if "\x00" in value:
            raise ValueError


def capped_count(matching: Select) -> Select:
    """The number of rows of `matching`, counting at most TOTAL_LIMIT + 1 of them."""
    return select(func.count()).select_from(matching.limit(TOTAL_LIMIT + 1).subquery("capped"))


def list_statement(
    filters: ClaimFilters, tz: ZoneInfo, *, sort: str = "-registered_at", limit: int = 50, cursor: str | None = None
) -> Select:
    """One page of the list as one statement: up to `limit + 1` rows (one more tells there is a
    next page) of LIST_COLUMNS, each with its sort key (`sort_key`, for the next cursor) and the
    number of claims matching the filters (`total`, counted up to TOTAL_LIMIT + 1: an init plan,
    an index-only count for the usual filters)."""
    if sort not in SORT_CHOICES:
        raise InvalidValue("sort", f"must be one of {', '.join(SORT_CHOICES)}")
    descending = sort.startswith("-")
    after = _decode_cursor(cursor, sort) if cursor else None

    if search_text(filters) is None:
        # The page's ids and sort keys come from an index-only scan in index order (composite indexes:
        # filter column, sort key, id, with the other filter columns included); only the page's rows
        # are then read from the heap and joined to their customers.
        claim: Any = Claim
        conditions = claim_conditions(filters, tz)
    else:
        # A search matches a few thousand claims at most, found through the GIN indexes in no useful
        # order, together with the filters of one customer, reason, department, employee or person
        # (small bitmaps, that spare reading most of a broad search's rows). The found claims are
        # kept (MATERIALIZED: the planner may not merge the other filters into the look-up, where it
        # would AND the search's bitmap with a status or channel index's tens of thousands of
        # entries), then the other filters, the count and the page are taken from them.
        narrowing = {field: getattr(filters, field) for field in _SEARCH_NARROWING}
        found = (
            select(*_FOUND_COLUMNS)
            .where(*claim_conditions(ClaimFilters(q=filters.q, **narrowing), tz))
            .cte("found")
            .prefix_with("MATERIALIZED")
        )
        claim = found.c  # the found claims' columns, by the claim's column names
        conditions = claim_conditions(replace(filters, q=None, **dict.fromkeys(narrowing)), tz, claim)
    key = _sort_key(claim, sort.lstrip("-"))

    def ordered(sort_key: Any, ident: Any) -> tuple[Any, Any]:
        return (sort_key.desc(), ident.desc()) if descending else (sort_key.asc(), ident.asc())

    keyset = []
    if after is not None:
        # The rows after the cursor, in the order of the sort: `(sort key, id) < (value, id)`.
        bound = tuple_(literal(after[0], key.type), literal(after[1], BigInteger()))
        keyset.append(tuple_(key, claim.id) < bound if descending else tuple_(key, claim.id) > bound)
    top = select(claim.id.label("id"), key.label("sort_key")).where(*conditions, *keyset)
    total = capped_count(select(claim.id).where(*conditions)).scalar_subquery()
    page = top.order_by(*ordered(top.selected_columns.sort_key, top.selected_columns.id)).limit(limit + 1)
    rows = page.subquery("top")
    return (
        select(*LIST_COLUMNS, rows.c.sort_key, total.label("total"))
        .select_from(rows)
        .join(Claim, Claim.id == rows.c.id)
        .join(Customer, Customer.id == Claim.customer_id)
        .order_by(*ordered(rows.c.sort_key, rows.c.id))
    )


async def list_claims(
    session: AsyncSession,
    *,
    filters: ClaimFilters,
    tz: ZoneInfo,
    sort: str = "-registered_at",
    limit: int = 50,
    cursor: str | None = None,
) -> ClaimPage:
    """A page of the list, and how many claims match (exact up to TOTAL_LIMIT), as of this page."""
    statement = list_statement(filters, tz, sort=sort, limit=limit, cursor=cursor)
    rows = [dict(row) for row in (await session.execute(statement)).mappings()]
    if rows:
        counted = rows[0]["total"]
    elif cursor:
        # Nothing after the cursor (its claims were deleted or changed meanwhile): no row carries the
        # total, so it is counted alone.
        counted = await session.scalar(capped_count(select(Claim.id).where(*claim_conditions(filters, tz))))
    else:
        counted = 0
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(sort, rows[-1]["sort_key"], rows[-1]["id"])
    for row in rows:
        del row["sort_key"], row["total"]
    return ClaimPage(
        items=rows, total=min(counted, TOTAL_LIMIT), total_exact=counted <= TOTAL_LIMIT, next_cursor=next_cursor
    )


async def claim_with_customer(session: AsyncSession, *, claim_id: int) -> tuple[Claim, Customer]:
    row = (
        await session.execute(
            select(Claim, Customer).join(Customer, Customer.id == Claim.customer_id).where(Claim.id == claim_id)
        )
    ).first()
    if row is None:
        raise NotFound("claim", claim_id)
    return row[0], row[1]


async def _exists(session: AsyncSession, claim_id: int) -> None:
    if await session.scalar(select(Claim.id).where(Claim.id == claim_id)) is None:
        raise NotFound("claim", claim_id)


async def claim_interactions(
    session: AsyncSession, *, claim_id: int, limit: int = 100, offset: int = 0
) -> Sequence[Interaction]:
    await _exists(session, claim_id)
    rows = await session.scalars(
        select(Interaction)
        .where(Interaction.claim_id == claim_id)
        .options(selectinload(Interaction.attachments))
        .order_by(Interaction.occurred_at, Interaction.id)
        .limit(limit)
        .offset(offset)
    )
    return rows.all()


async def claim_plan(session: AsyncSession, *, claim_id: int) -> Sequence[PlanItem]:
    await _exists(session, claim_id)
    rows = await session.scalars(
        select(PlanItem).where(PlanItem.claim_id == claim_id).order_by(PlanItem.position, PlanItem.id)
    )
    return rows.all()


async def claim_events(session: AsyncSession, *, claim_id: int) -> Sequence[ClaimEvent]:
    await _exists(session, claim_id)
    rows = await session.scalars(
        select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.at, ClaimEvent.id)
    )
    return rows.all()


async def get_attachment(session: AsyncSession, *, attachment_id: int) -> Attachment:
    row = await session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound("attachment", attachment_id)
    return row


async def set_attachment_storage(session: AsyncSession, *, attachment_id: int, storage_path: str) -> None:
    """Remember where the cached download of an attachment sits (a cache note, not a claim change)."""
    row = await get_attachment(session, attachment_id=attachment_id)
    row.storage_path = storage_path
    await session.flush()
