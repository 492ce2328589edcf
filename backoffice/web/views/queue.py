"""The queue: the claims list at `/` with the API's filters and search, sortable columns, keyset
pages, counts by status and the quick views; the URL holds the whole state (bookmark, share).
An empty desk shows the first-run page here instead."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from backoffice.web.context import wctx
from backoffice.web.directory import load_directory
from backoffice.web.render import is_fragment_for, render, see_other, signin_url
from backoffice.web.routes import WebRoute
from shared.claims.counts import count_by_status
from shared.claims.filters import ClaimFilters
from shared.claims.queries import SORT_CHOICES, list_claims
from shared.claims.workflow import OPEN_STATUSES, ClaimResult, ClaimStatus
from shared.clock import local_date, utcnow
from shared.enums import Channel
from shared.errors import InvalidValue
from shared.staff.service import has_staff_users

PAGE_SIZE = 50
NEAR_DUE = timedelta(hours=24)
VIEWS = ("mine", "unassigned", "overdue", "today")
SORTABLE = ("number", "registered_at", "due_at", "updated_at")
DEFAULT_SORT = "-registered_at"


def _int(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and 0 < int(value) < 2**63:
        return int(value)
    return None


def _day(value: str | None) -> date | None:
    try:
        day = date.fromisoformat(value or "")
    except ValueError:
        return None
    return day if 1900 <= day.year <= 9998 else None


def _choice(value: str | None, choices: Any) -> str | None:
    return value if value in {c.value for c in choices} else None


@dataclass(frozen=True, slots=True)
class QueueState:
    """The queue's state as read from (and written back to) the URL; a value that does not parse is
    dropped, so an edited or old bookmark still opens."""

    view: str | None = None
    q: str | None = None
    status: str | None = None
    result: str | None = None
    reason_id: int | None = None
    culprit_department_id: int | None = None
    culprit_employee_id: int | None = None
    responsible_id: int | None = None
    customer_id: int | None = None
    channel: str | None = None
    registered_from: date | None = None
    registered_to: date | None = None
    overdue: bool = False
    sort: str = DEFAULT_SORT
    cursor: str | None = None

    @classmethod
    def from_query(cls, query: Any) -> QueueState:
        sort = query.get("sort")
        q = (query.get("q") or "").strip()[:200]
        return cls(
            view=query.get("view") if query.get("view") in VIEWS else None,
            q=q.replace("\x00", "") or None,
            status=_choice(query.get("status"), ClaimStatus),
            result=_choice(query.get("result"), ClaimResult),
            reason_id=_int(query.get("reason_id")),
            culprit_department_id=_int(query.get("culprit_department_id")),
            culprit_employee_id=_int(query.get("culprit_employee_id")),
            responsible_id=_int(query.get("responsible_id")),
            customer_id=_int(query.get("customer_id")),
            channel=_choice(query.get("channel"), Channel),
            registered_from=_day(query.get("registered_from")),
            registered_to=_day(query.get("registered_to")),
            overdue=query.get("overdue") in ("1", "true", "on"),
            sort=sort if sort in SORT_CHOICES else DEFAULT_SORT,
            cursor=(query.get("cursor") or None) if len(query.get("cursor") or "") <= 500 else None,
        )

    def filters(self, *, user_id: int, today: date) -> ClaimFilters:
        status = (self.status,) if self.status else ()
        filters = ClaimFilters(
            status=status,
            result=(self.result,) if self.result else (),
            reason_id=self.reason_id,
            culprit_department_id=self.culprit_department_id,
            culprit_employee_id=self.culprit_employee_id,
            responsible_id=self.responsible_id,
            customer_id=self.customer_id,
            channel=self.channel,
            registered_from=self.registered_from,
            registered_to=self.registered_to,
            overdue=True if self.overdue else None,
            q=self.q,
        )
        open_only = status or tuple(s.value for s in OPEN_STATUSES)
        if self.view == "mine":
            filters = replace(filters, responsible_id=user_id, status=open_only)
        elif self.view == "unassigned":
            filters = replace(filters, unassigned=True, status=open_only)
        elif self.view == "overdue":
            filters = replace(filters, overdue=True)
        elif self.view == "today":
            filters = replace(filters, registered_from=today)
        return filters

    def params(self, **changes: Any) -> dict[str, str]:
        state = replace(self, **changes)
        out: dict[str, str] = {}
        for f in fields(state):
            value = getattr(state, f.name)
            if value in (None, False, "") or (f.name == "sort" and value == DEFAULT_SORT):
                continue
            out[f.name] = "1" if value is True else str(value)
        return out

    def url(self, **changes: Any) -> str:
        params = self.params(**changes)
        return "/?" + urlencode(params) if params else "/"

    def sort_url(self, column: str) -> str:
        """Newest/latest first on the first click for dates, ascending for the number."""
        if self.sort == column:
            return self.url(sort="-" + column, cursor=None)
        if self.sort == "-" + column:
            return self.url(sort=column, cursor=None)
        return self.url(sort=column if column == "number" else "-" + column, cursor=None)

    def sort_state(self, column: str) -> str:
        if self.sort == column:
            return "ascending"
        if self.sort == "-" + column:
            return "descending"
        return "none"


async def home(request: web.Request) -> web.Response:
    """An empty desk explains how to create the first admin; else the queue (signed in)."""
    c = wctx(request)
    if c.user is None:
        if not await has_staff_users(c.session):
            return render(request, "first_run.html", {})
        return see_other(request, signin_url(request.path_qs))
    state = QueueState.from_query(request.query)
    now = utcnow()
    filters = state.filters(user_id=c.user.id, today=local_date(now, c.settings.tz))
    try:
        page = await list_claims(
            c.session, filters=filters, tz=c.settings.tz, sort=state.sort, limit=PAGE_SIZE, cursor=state.cursor
        )
    except InvalidValue:  # a cursor of another sort or a mangled one: the first page instead
        state = replace(state, cursor=None)
        page = await list_claims(c.session, filters=filters, tz=c.settings.tz, sort=state.sort, limit=PAGE_SIZE)
    counts = await count_by_status(c.session, filters=filters, tz=c.settings.tz)
    directory = await load_directory(c.session)
    rows = []
    for item in page.items:
        is_open = item["status"] in OPEN_STATUSES
        due = item["due_at"]
        rows.append(
            {
                **item,
                "overdue": is_open and due is not None and due < now,
                "near_due": is_open and due is not None and now <= due < now + NEAR_DUE,
            }
        )
    context = {
        "state": state,
        "page": page,
        "rows": rows,
        "counts": counts,
        "statuses": [s.value for s in ClaimStatus],
        "results": [r.value for r in ClaimResult],
        "channels": [ch.value for ch in Channel],
        "directory": directory,
        "sortable": SORTABLE,
        "views": VIEWS,
    }
    if is_fragment_for(request, "queue-results"):
        return render(request, "queue_results.html", context)
    return render(request, "queue.html", context)


routes = [WebRoute("GET", "/", home, role=None)]
