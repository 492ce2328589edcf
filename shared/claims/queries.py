"""Reading claims for the back-office: the filtered, searched, keyset-paginated list with its total,
one claim with its customer, and a claim's timeline (interactions, plan, audit events).

`list_statements` builds the SQL once so the API and the bench's bare handler run exactly the same
queries; `list_claims` executes them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import BigInteger, Column, Integer, Select, bindparam, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import visitors
from sqlalchemy.sql.util import ClauseAdapter

from shared.audit.models import ClaimEvent
from shared.claims.filters import ClaimFilters, conditions_for, filter_values
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.errors import InvalidValue, NotFound
from shared.interactions.models import Attachment, Interaction
from shared.plans.models import PlanItem

# A claim without a due date sorts after every dated one.
_NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)

SORTS: dict[str, Any] = {
    "registered_at": Claim.registered_at,
    "updated_at": Claim.updated_at,
    # The constant in the SQL text, not a parameter: plans (and any expression index) see it.
    "due_at": func.coalesce(Claim.due_at, literal_column(f"'{_NO_DUE.isoformat()}'::timestamptz", Claim.due_at.type)),
    "number": Claim.number,
    "id": Claim.id,
}
# The type of a cursor's sort value, checked before it is bound to the statement.
_CURSOR_TYPES: dict[str, type] = {
    "registered_at": datetime,
    "updated_at": datetime,
    "due_at": datetime,
    "number": str,
    "id": int,
}
SORT_CHOICES = tuple(SORTS) + tuple(f"-{name}" for name in SORTS)

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


@dataclass(frozen=True, slots=True)
class ClaimPage:
    items: list[dict[str, Any]]
    total: int
    next_cursor: str | None
    total_exact: bool = True  # False: `total` is a floor (the count stopped at its cap)


def _encode_cursor(sort: str, value: Any, ident: int, total: int) -> str:
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    raw = json.dumps([sort, value, ident, total], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, ident, total = json.loads(raw)
        if cursor_sort != sort:
            raise ValueError
        for number in (ident, total):
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise ValueError
        if isinstance(value, dict):
            value = datetime.fromisoformat(value["t"])
        elif not isinstance(value, str | int) or isinstance(value, bool):
            raise ValueError
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, OverflowError):
        raise InvalidValue("cursor", "not a cursor of this list and sort") from None
    return value, ident, total


@dataclass(frozen=True, slots=True)
class ListShape:
    """The list's SQL for one shape of request (which filters are set, the sort, first page or
    not), built and compiled once: a request only computes its parameter values.

    Building the SQLAlchemy statement and its cache key cost more Python time than PostgreSQL
    spends running it (~1.5 ms a request); the compiled text runs on the asyncpg connection
    directly (`fetch_list_rows`), so the rows are not wrapped twice either.
    """

    statement: Select
    sql: str
    names: tuple[str, ...]  # the bind parameter of each $n
    defaults: dict[str, Any]  # the values of the statement's constant binds


@dataclass(frozen=True, slots=True)
class ListStatement:
    """One page of the list as ONE statement (one round trip).

    On the first page (`total is None`) every row also carries `total`: the exact count of the
    claims matching the filters, computed once by the statement (an init plan; an index-only scan
    for the usual filters). Later pages do not count again: the total read with the first page
    travels in the cursor, so the pages of one listing agree with each other.
    """

    shape: ListShape
    params: dict[str, Any]
    total: int | None

    @property
    def statement(self) -> Select:
        """The statement with this request's values (to print or EXPLAIN it)."""
        return self.shape.statement.params(self.params)

    @property
    def args(self) -> list[Any]:
        return [self.params[name] if name in self.params else self.shape.defaults[name] for name in self.shape.names]


_DIALECT = asyncpg_dialect()
_SHAPES: dict[tuple[Any, ...], ListShape] = {}
_MAX_SHAPES = 512  # 2^13 filter combinations x 10 sorts x 2 could exist; a desk uses a few dozen


def _shape(filter_names: frozenset[str], sort: str, after: bool, first_page: bool) -> ListShape:
    key = (filter_names, sort, after, first_page)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _build_shape(filter_names, sort, after=after, first_page=first_page)
        if len(_SHAPES) >= _MAX_SHAPES:
            _SHAPES.clear()
        _SHAPES[key] = shape
    return shape


# The filters a search keeps in its index look-up: one customer's, employee's, department's... claims
# (a handful to ~10 %), whose index's bitmap ANDed with a broad search's spares reading most of its
# rows (q=опоздал&culprit_employee_id=3: 3.7 ms so, 14.8 ms checking all 8 % found).
_SEARCH_INDEXED = frozenset(
    {"q", "customer_id", "reason_id", "culprit_department_id", "culprit_employee_id", "responsible_id"}
)


def _clause(expression: Any) -> Any:
    """The Core expression of an ORM attribute (or the expression itself)."""
    return expression.__clause_element__() if hasattr(expression, "__clause_element__") else expression


def _claim_columns(*expressions: Any) -> list[Column[Any]]:
    """The claim's columns the expressions read, in table order."""
    table = Claim.__table__
    used = {
        c.key for e in expressions for c in visitors.iterate(_clause(e)) if isinstance(c, Column) and c.table is table
    }
    return [column for column in table.c if column.key in used]


def _build_shape(filter_names: frozenset[str], sort: str, *, after: bool, first_page: bool) -> ListShape:
    descending = sort.startswith("-")
    key = SORTS[sort.lstrip("-")]

    def arg(name: str, type_: Any) -> Any:
        return bindparam(name, type_=type_)

    conditions = conditions_for(dict.fromkeys(filter_names), arg)
    keyset = []
    if after:
        bound = tuple_(bindparam("after_value", type_=key.type), bindparam("after_id", type_=BigInteger()))
        keyset.append(tuple_(key, Claim.id) < bound if descending else tuple_(key, Claim.id) > bound)
    limit = bindparam("limit_plus_one", type_=Integer())

    def ordered(sort_key: Any, ident: Any) -> tuple[Any, Any]:
        return (sort_key.desc(), ident.desc()) if descending else (sort_key.asc(), ident.asc())

    if "q" in filter_names:
        # A search matches a few thousand claims at most: collect them once (id and sort key, from
        # the GIN look-ups), then count them and take the page from that one set.
        checked = filter_names - _SEARCH_INDEXED
        if checked or keyset:
            # The broad filters (status, result, channel, dates, overdue, assignment) and the cursor
            # are checked on the rows the search found, behind a subquery fence (OFFSET 0):
            # otherwise the planner ANDs the search's bitmap (a few thousand claims) with a status,
            # channel or date index's (25k-50k entries for `status=in_progress`: ~9 ms to build)
            # to skip rows that cost less to read and check.
            indexed = conditions_for(dict.fromkeys(filter_names & _SEARCH_INDEXED), arg)
            later = [*conditions_for(dict.fromkeys(checked), arg), *keyset]
            found = (
                select(*_claim_columns(Claim.id, key, *later))
                .where(*indexed)
                .offset(literal_column("0", Integer()))
                .subquery("found")
            )
            adapter = ClauseAdapter(found)

            def adapt(expression: Any) -> Any:
                return adapter.traverse(_clause(expression))

            matched = (
                select(found.c.id.label("id"), adapt(key).label("sort_key")).where(*map(adapt, later)).cte("matched")
            )
        else:
            matched = select(Claim.id.label("id"), key.label("sort_key")).where(*conditions, *keyset).cte("matched")
        top = (
            select(matched.c.id, matched.c.sort_key)
            .order_by(*ordered(matched.c.sort_key, matched.c.id))
            .limit(limit)
            .subquery("top")
        )
        total = select(func.count()).select_from(matched).scalar_subquery()
    else:
        # The page's ids and sort keys come from an index-only scan in index order (composite
        # indexes: filter column, sort key, id, with the other filter columns included), then only
        # the page's rows are fetched from the heap and joined to their customers: the rows the
        # filters reject on the way are never read from the wide claim rows.
        top = (
            select(Claim.id.label("id"), key.label("sort_key"))
            .where(*conditions, *keyset)
            .order_by(*ordered(key, Claim.id))
            .limit(limit)
            .subquery("top")
        )
        total = select(func.count()).select_from(Claim).where(*conditions).scalar_subquery()
    page = (
        select(*LIST_COLUMNS, top.c.sort_key)
        .select_from(top)
        .join(Claim, Claim.id == top.c.id)
        .join(Customer, Customer.id == Claim.customer_id)
        .order_by(*ordered(top.c.sort_key, top.c.id))
    )
    if first_page:
        page = page.add_columns(total.label("total"))
    compiled = page.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    names = tuple(compiled.positiontup or ())
    defaults = {name: value for name, value in compiled.params.items() if name not in filter_names}
    return ListShape(statement=page, sql=compiled.string, names=names, defaults=defaults)


def list_statements(
    filters: ClaimFilters, tz: ZoneInfo, *, sort: str = "-registered_at", limit: int = 50, cursor: str | None = None
) -> ListStatement:
    """The claims list's SQL: the API (`list_claims`) and the bench's bare handler both run this."""
    if sort not in SORT_CHOICES:
        raise InvalidValue("sort", f"must be one of {', '.join(SORT_CHOICES)}")
    params = filter_values(filters, tz)
    filter_names = frozenset(params)
    carried_total = None
    if cursor:
        value, ident, carried_total = _decode_cursor(cursor, sort)
        if not isinstance(value, _CURSOR_TYPES[sort.lstrip("-")]):
            raise InvalidValue("cursor", "not a cursor of this list and sort")
        params["after_value"] = value
        params["after_id"] = ident
    params["limit_plus_one"] = limit + 1
    shape = _shape(filter_names, sort, cursor is not None and bool(cursor), carried_total is None)
    return ListStatement(shape, params, carried_total)


async def fetch_list_rows(conn: AsyncConnection | AsyncSession, listing: ListStatement) -> list[dict[str, Any]]:
    """Run the list's statement; the rows as dicts (column name -> value)."""
    if isinstance(conn, AsyncSession):
        await conn.flush()  # what session.execute() would do before reading
        conn = await conn.connection()
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    # Inside the caller's transaction when it has begun one; a single statement needs none.
    try:
        records = await driver.fetch(listing.shape.sql, *listing.args)
    except (OSError, asyncpg.InterfaceError, asyncpg.ConnectionDoesNotExistError):
        # What SQLAlchemy does on a lost connection: the pool must not hand it out again.
        await conn.invalidate()
        raise
    return [dict(record) for record in records]


def read_page(rows: list[dict[str, Any]], listing: ListStatement, *, sort: str, limit: int) -> ClaimPage:
    """The page from the statement's rows: total, next cursor, rows without the helper columns."""
    total = listing.total if listing.total is not None else (rows[0]["total"] if rows else 0)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = _encode_cursor(sort, last["sort_key"], last["id"], total)
    for row in rows:
        del row["sort_key"]
        row.pop("total", None)
    return ClaimPage(items=rows, total=total, next_cursor=next_cursor)


async def list_claims(
    session: AsyncSession,
    *,
    filters: ClaimFilters,
    tz: ZoneInfo,
    sort: str = "-registered_at",
    limit: int = 50,
    cursor: str | None = None,
) -> ClaimPage:
    """A page of the list; `total` is exact as of the first page of this listing (see `ListStatement`)."""
    listing = list_statements(filters, tz, sort=sort, limit=limit, cursor=cursor)
    return read_page(await fetch_list_rows(session, listing), listing, sort=sort, limit=limit)


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
