"""Importing claims from CSV: every row is checked first; any bad row and nothing is written, each
bad row reported (line where its record starts, column, reason); a good file is written in the
caller's transaction with COPY, so 100,000 rows take seconds, not minutes.

Rules (issue 6): the header names the columns (any order; see `columns.py`): `registered_at`,
`customer_name`, `status` and `subject` or `description` must be there, any other may be left out;
timestamps are ISO 8601, one without an offset is in TIMEZONE; `status`
new/in_progress/resolved/closed, where resolved and closed need `result` and `resolved_at` and the
others have neither; a claim's description is its subject when the row gives only a subject;
unknown departments, employees (matched by name alone: one person, one employee) and reasons are
created; customers are matched by Telegram id, else by phone (within the file too), else created;
`responsible` must name an existing staff user (login or full name): staff accounts are never
created from a file. Each claim gets one `imported` audit event. Claim numbers given in the file
keep the year's counter ahead; rows without one are numbered from the counter of the year of their
local registration date.

Like every service this never commits: the caller commits once (all or nothing).
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.catalogs.models import Department, Employee, Reason
from shared.claims.models import Claim
from shared.claims.numbering import format_number, reserve_claim_number
from shared.claims.service import subject_from
from shared.claims.workflow import ClaimResult, ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.customers.service import normalize_phone
from shared.enums import ActorKind, Channel, Priority, Remedy
from shared.errors import DomainError, InvalidValue
from shared.exchange.cells import csv_unprotect
from shared.exchange.columns import COLUMNS, ONE_OF_COLUMNS, REQUIRED_COLUMNS, TEXT_COLUMNS
from shared.exchange.csvfile import FileRejected, RowError, decode, detect_delimiter, records
from shared.settings import get_settings
from shared.staff.models import StaffUser
from shared.text_limits import LONG_TEXT, SUBJECT

Progress = Callable[[str, int, int], None]  # (phase: "check" | "write", done, total)

LIMITS = {
    "customer_name": 255,
    "subject": SUBJECT,
    "reason": 200,
    "culprit_department": 200,
    "culprit_employee": 200,
    "number": 32,
    "requirement": LONG_TEXT,
    "description": LONG_TEXT,
    "resolution": LONG_TEXT,
    "responsible": 200,
}
CHUNK = 10_000  # rows per COPY batch (and per progress step)


class ImportRejected(DomainError):
    """The file has bad rows; nothing was imported. `errors` lists every one."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"nothing imported: {len(errors)} problem(s) in the file", count=len(errors))
        self.errors = errors


@dataclass(slots=True)
class Row:
    line: int
    number: str | None
    registered_at: datetime
    customer_name: str
    phone: str | None
    telegram_id: int | None
    channel: str
    subject: str
    description: str
    remedy: str | None
    remedy_text: str | None
    reason: str | None
    department: str | None
    employee: str | None
    responsible: str | None
    status: str
    result: str | None
    resolution: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    amount_claimed: Decimal | None
    amount_granted: Decimal | None


@dataclass
class ImportSummary:
    claims: int = 0
    customers: int = 0
    departments: int = 0
    employees: int = 0
    reasons: int = 0
    encoding: str = ""
    delimiter: str = ""
    numbers: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": self.claims,
            "customers": self.customers,
            "departments": self.departments,
            "employees": self.employees,
            "reasons": self.reasons,
        }


# --- checking one row -------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params


def parse_timestamp(value: str, tz: ZoneInfo) -> datetime:
    raw = value.strip()
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "T", 1) if len(raw) > 10 else raw)
    except ValueError:
        raise _Bad("bad_timestamp") from None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def parse_amount(value: str) -> Decimal:
    raw = value.replace("\u00a0", "").replace(" ", "")
    if "," in raw and "." not in raw:
        raw = raw.replace(",", ".")  # a decimal comma, as Russian Excel writes it
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise _Bad("bad_amount") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise _Bad("bad_amount")
    return amount.quantize(Decimal("0.01"))


def _choice(value: str, choices: type, *, empty: str | None = None) -> str | None:
    clean = value.strip().lower()
    if not clean:
        return empty
    allowed = [c.value for c in choices]
    if clean not in allowed:
        raise _Bad("bad_choice", choices=", ".join(allowed))
    return clean


def _field(fields: list[str], at: int | None, column: str) -> str:
    """A field stripped of surrounding blanks; text columns lose the `'` the export puts before
    text a spreadsheet would run as a formula (`shared.exchange.cells`)."""
    if at is None or at >= len(fields):
        return ""
    value = fields[at].strip()
    return csv_unprotect(value) if column in TEXT_COLUMNS else value


class _RowChecker:
    def __init__(self, index: dict[str, int], tz: ZoneInfo) -> None:
        self.index = index
        self.tz = tz

    def check(self, line: int, fields: list[str], errors: list[RowError]) -> Row | None:
        before = len(errors)
        values: dict[str, Any] = {}

        def get(column: str) -> str:
            return _field(fields, self.index.get(column), column)

        def take(column: str, parse: Callable[[str], Any]) -> Any:
            try:
                value = parse(get(column))
            except _Bad as bad:
                errors.append(RowError(line, column, bad.code, bad.params))
                return None
            return value

        for column, limit in LIMITS.items():
            raw = get(column)
            if len(raw) > limit:
                errors.append(RowError(line, column, "too_long", {"limit": limit}))
            values[column] = raw or None
        for column in REQUIRED_COLUMNS:
            if not get(column):
                errors.append(RowError(line, column, "required"))
        if not any(get(column) for column in ONE_OF_COLUMNS):
            errors.append(RowError(line, "description", "subject_or_description_required"))

        registered_at = take("registered_at", lambda v: parse_timestamp(v, self.tz) if v else None)
        resolved_at = take("resolved_at", lambda v: parse_timestamp(v, self.tz) if v else None)
        closed_at = take("closed_at", lambda v: parse_timestamp(v, self.tz) if v else None)

        def phone(raw: str) -> str | None:
            if not raw:
                return None
            try:
                return normalize_phone(raw)
            except InvalidValue:
                raise _Bad("bad_phone") from None

        def telegram_id(raw: str) -> int | None:
            if not raw:
                return None
            if not raw.isdigit() or not 0 < int(raw) < 2**63:
                raise _Bad("bad_telegram_id")
            return int(raw)

        customer_phone = take("customer_phone", phone)
        customer_tg = take("customer_telegram_id", telegram_id)
        channel = take("channel", lambda v: _choice(v, Channel, empty=Channel.IMPORT.value))
        status = take("status", lambda v: _choice(v, ClaimStatus)) if get("status") else None
        result = take("result", lambda v: _choice(v, ClaimResult))
        amount_claimed = take("amount_claimed", lambda v: parse_amount(v) if v else None)
        amount_granted = take("amount_granted", lambda v: parse_amount(v) if v else None)

        if status in (ClaimStatus.RESOLVED, ClaimStatus.CLOSED):
            if result is None and not get("result"):
                errors.append(RowError(line, "result", "result_required"))
            if resolved_at is None and not get("resolved_at"):
                errors.append(RowError(line, "resolved_at", "resolved_at_required"))
        elif status is not None:
            if get("result"):
                errors.append(RowError(line, "result", "result_forbidden"))
            if get("resolved_at"):
                errors.append(RowError(line, "resolved_at", "resolved_at_forbidden"))
        if status is not None and status != ClaimStatus.CLOSED and get("closed_at"):
            errors.append(RowError(line, "closed_at", "closed_at_forbidden"))
        if registered_at and resolved_at and resolved_at < registered_at:
            errors.append(RowError(line, "resolved_at", "before", {"other": "registered_at"}))
        if resolved_at and closed_at and closed_at < resolved_at:
            errors.append(RowError(line, "closed_at", "before", {"other": "resolved_at"}))

        if len(errors) > before:
            return None
        requirement = values["requirement"]
        remedy, remedy_text = None, None
        if requirement:
            if requirement.lower() in {r.value for r in Remedy}:
                remedy = requirement.lower()
            else:
                remedy, remedy_text = Remedy.OTHER.value, requirement
        description = values["description"] or values["subject"]
        return Row(
            line=line,
            number=values["number"],
            registered_at=registered_at,
            customer_name=values["customer_name"],
            phone=customer_phone,
            telegram_id=customer_tg,
            channel=channel,
            subject=values["subject"] or subject_from(description),
            description=description,
            remedy=remedy,
            remedy_text=remedy_text,
            reason=values["reason"],
            department=values["culprit_department"],
            employee=values["culprit_employee"],
            responsible=values["responsible"],
            status=status,
            result=result,
            resolution=values["resolution"],
            resolved_at=resolved_at,
            closed_at=closed_at or (resolved_at if status == ClaimStatus.CLOSED else None),
            amount_claimed=amount_claimed,
            amount_granted=amount_granted,
        )


def _header(fields: list[str]) -> tuple[dict[str, int], list[RowError]]:
    errors: list[RowError] = []
    index: dict[str, int] = {}
    for i, name in enumerate(fields):
        clean = name.strip().lower()
        if not clean:
            continue
        if clean not in COLUMNS:
            errors.append(RowError(1, name.strip(), "unknown_column"))
        elif clean in index:
            errors.append(RowError(1, clean, "duplicate_column"))
        else:
            index[clean] = i
    # Every missing column named at once: the person fixing the file sees the whole list.
    missing = [column for column in REQUIRED_COLUMNS if column not in index]
    if not any(column in index for column in ONE_OF_COLUMNS):
        missing.append("/".join(ONE_OF_COLUMNS))
    if missing:
        errors.append(RowError(1, None, "missing_columns", {"columns": ", ".join(missing)}))
    return index, errors


@dataclass
class CheckedFile:
    rows: list[Row]  # the rows that passed their own checks
    errors: list[RowError]
    encoding: str = ""
    delimiter: str = ""
    # (line, responsible, number) of every record, good or bad, for the checks against the database
    refs: list[tuple[int, str, str]] = field(default_factory=list)


def check_file(data: bytes, *, tz: ZoneInfo, progress: Progress | None = None) -> CheckedFile:
    """Every row parsed and checked on its own (no database)."""
    try:
        text_data, encoding = decode(data)
    except FileRejected as exc:
        return CheckedFile([], exc.errors)
    if not text_data.strip():
        return CheckedFile([], [RowError(1, None, "empty_file")], encoding)
    delimiter = detect_delimiter(text_data, COLUMNS)
    checked = CheckedFile([], [], encoding, delimiter)
    # A rough total for the progress bar: physical lines (records may span several).
    total = text_data.count("\n")
    errors, rows = checked.errors, checked.rows
    iterator = records(text_data, delimiter)
    try:
        first = next(iterator, None)
        if first is None:
            errors.append(RowError(1, None, "empty_file"))
            return checked
        index, header_errors = _header(first[1])
        if header_errors:
            errors.extend(header_errors)
            return checked
        checker = _RowChecker(index, tz)
        width = len(first[1])
        numbers: dict[str, int] = {}
        number_at, responsible_at = index.get("number"), index.get("responsible")
        for n, (line, fields) in enumerate(iterator, start=1):
            if len(fields) > width and any(f.strip() for f in fields[width:]):
                errors.append(RowError(line, None, "too_many_fields", {"count": len(fields), "expected": width}))
                continue
            number = _field(fields, number_at, "number")
            responsible = _field(fields, responsible_at, "responsible")
            checked.refs.append((line, responsible, number))
            if number:
                if number in numbers:
                    errors.append(RowError(line, "number", "number_repeated", {"other": numbers[number]}))
                else:
                    numbers[number] = line
            row = checker.check(line, fields, errors)
            if row is not None:
                rows.append(row)
            if progress is not None and n % 1000 == 0:
                progress("check", line, total)
    except FileRejected as exc:
        errors.extend(exc.errors)
    if not checked.refs and not errors:
        errors.append(RowError(2, None, "no_rows"))
    return checked


# --- checks against the database, then writing -------------------------------------------------


async def _staff_lookup(
    session: AsyncSession, refs: list[tuple[int, str, str]], errors: list[RowError]
) -> dict[str, int]:
    names = {responsible for _, responsible, _ in refs if responsible}
    if not names:
        return {}
    lowered = {n.lower() for n in names}
    found = (
        await session.execute(
            select(StaffUser.id, StaffUser.login, StaffUser.full_name)
            .where((StaffUser.login.in_(lowered)) | (StaffUser.full_name.in_(names)))
            .order_by(StaffUser.id)
        )
    ).all()
    by_name: dict[str, int] = {}
    for ident, _login, full_name in found:
        by_name.setdefault(full_name, ident)
    for ident, login, _ in found:  # a login beats a full name that happens to equal it
        by_name[login] = ident
    out: dict[str, int] = {}
    for line, responsible, _ in refs:
        if not responsible:
            continue
        ident = by_name.get(responsible.lower()) or by_name.get(responsible)
        if ident is None:
            errors.append(RowError(line, "responsible", "unknown_staff"))
        else:
            out[responsible] = ident
    return out


async def _taken_numbers(session: AsyncSession, refs: list[tuple[int, str, str]], errors: list[RowError]) -> None:
    given = list({number for _, _, number in refs if number})
    if not given:
        return
    taken: set[str] = set()
    for start in range(0, len(given), CHUNK):
        chunk = given[start : start + CHUNK]
        taken.update((await session.scalars(select(Claim.number).where(Claim.number.in_(chunk)))).all())
    for line, _, number in refs:
        if number in taken:
            errors.append(RowError(line, "number", "number_taken"))


async def _ensure_names(session: AsyncSession, model: type, names: set[str]) -> tuple[dict[str, int], int]:
    if not names:
        return {}, 0
    existing = dict((await session.execute(select(model.name, model.id).where(model.name.in_(names)))).all())
    missing = sorted(names - set(existing))
    if missing:
        created = await session.execute(
            model.__table__.insert().values([{"name": n} for n in missing]).returning(model.name, model.id)
        )
        existing.update(dict(created.all()))
    return existing, len(missing)


async def _ensure_employees(
    session: AsyncSession, named: list[tuple[str, int | None]]
) -> tuple[dict[tuple[str, int | None], int], int]:
    """Employees matched by name: one person is one employee, whatever department a row names
    with them. Of several existing employees with that name, the one in the row's department is
    taken, else the first; a name not known yet is created once, in the first department the file
    names with it. `named` is (employee, department id) of each row, in file order."""
    if not named:
        return {}, 0
    names = {name for name, _ in named}
    known: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    for ident, name, department_id in (
        await session.execute(
            select(Employee.id, Employee.name, Employee.department_id)
            .where(Employee.name.in_(names))
            .order_by(Employee.id)
        )
    ).all():
        known[name].append((ident, department_id))
    first_department: dict[str, int | None] = {}
    for name, department_id in named:
        if name not in known and first_department.get(name) is None:
            first_department[name] = department_id
    missing = list(first_department)  # created in the order the file names them
    if missing:
        created = await session.execute(
            Employee.__table__.insert()
            .values([{"name": name, "department_id": first_department[name]} for name in missing])
            .returning(Employee.id, Employee.name, Employee.department_id)
        )
        for ident, name, department_id in created.all():
            known[name].append((ident, department_id))
    out: dict[tuple[str, int | None], int] = {}
    for name, department_id in named:
        candidates = known[name]
        out[(name, department_id)] = next((i for i, d in candidates if d == department_id), candidates[0][0])
    return out, len(missing)


async def _next_ids(conn, sequence_of: str, count: int) -> list[int]:
    if not count:
        return []
    rows = await conn.fetch(
        "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2)", sequence_of, count
    )
    return [r[0] for r in rows]


async def import_claims(
    session: AsyncSession,
    *,
    data: bytes,
    actor: Actor,
    tz: ZoneInfo | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Check the whole file, then write it; raises ImportRejected (nothing written) on any bad row."""
    settings = get_settings()
    tz = tz or settings.tz
    # Parsing and checking is CPU work (seconds for 100,000 rows): keep it off the event loop.
    checked = await asyncio.to_thread(check_file, data, tz=tz, progress=progress)
    rows, errors, encoding, delimiter = checked.rows, checked.errors, checked.encoding, checked.delimiter
    responsible = await _staff_lookup(session, checked.refs, errors)
    await _taken_numbers(session, checked.refs, errors)
    if errors:
        errors.sort(key=lambda e: (e.line, COLUMNS.index(e.column) if e.column in COLUMNS else -1))
        raise ImportRejected(errors)

    summary = ImportSummary(claims=len(rows), encoding=encoding, delimiter=delimiter)
    departments, summary.departments = await _ensure_names(
        session, Department, {r.department for r in rows if r.department}
    )
    reasons, summary.reasons = await _ensure_names(session, Reason, {r.reason for r in rows if r.reason})
    employees, summary.employees = await _ensure_employees(
        session, [(r.employee, departments.get(r.department) if r.department else None) for r in rows if r.employee]
    )

    # The raw asyncpg connection of this session, inside its transaction, for COPY.
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        # SQLAlchemy begins the transaction on the connection at the session's first statement, and
        # a file that names no catalog entry, staff user or claim number has run none yet.
        await session.execute(text("SELECT 1"))
    assert raw.is_in_transaction(), "COPY must run inside the session's transaction"

    customer_of = await _match_customers(session, raw, rows, summary)
    numbers = await _numbers(session, rows, tz)
    claim_ids = await _next_ids(raw, "claim", len(rows))
    sla = timedelta(hours=settings.sla_resolution_hours)
    now = utcnow()
    currency = settings.currency.upper()

    claim_columns = (
        "id",
        "number",
        "customer_id",
        "channel",
        "subject",
        "description",
        "remedy",
        "remedy_text",
        "amount_claimed",
        "amount_granted",
        "currency",
        "reason_id",
        "culprit_department_id",
        "culprit_employee_id",
        "responsible_id",
        "priority",
        "status",
        "result",
        "resolution",
        "registered_at",
        "due_at",
        "resolved_at",
        "closed_at",
        "updated_at",
        "version",
    )
    event_columns = ("claim_id", "actor_kind", "actor_staff_id", "actor_customer_id", "kind", "after", "at")
    staff_id = actor.id if actor.kind is ActorKind.STAFF else None
    customer_actor = actor.id if actor.kind is ActorKind.CUSTOMER else None
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        claim_records = []
        event_records = []
        for offset, row in enumerate(chunk):
            i = start + offset
            dept = departments.get(row.department) if row.department else None
            claim_records.append(
                (
                    claim_ids[i],
                    numbers[i],
                    customer_of[i],
                    row.channel,
                    row.subject,
                    row.description,
                    row.remedy,
                    row.remedy_text,
                    row.amount_claimed,
                    row.amount_granted,
                    currency,
                    reasons.get(row.reason) if row.reason else None,
                    dept,
                    employees.get((row.employee, dept)) if row.employee else None,
                    responsible.get(row.responsible) if row.responsible else None,
                    Priority.NORMAL.value,
                    row.status,
                    row.result,
                    row.resolution,
                    row.registered_at,
                    row.registered_at + sla,
                    row.resolved_at,
                    row.closed_at,
                    now,
                    1,
                )
            )
            after = json.dumps({"number": numbers[i], "status": row.status, "line": row.line})
            event_records.append((claim_ids[i], actor.kind.value, staff_id, customer_actor, "imported", after, now))
        await raw.copy_records_to_table("claim", records=claim_records, columns=claim_columns)
        await raw.copy_records_to_table("claim_event", records=event_records, columns=event_columns)
        if progress is not None:
            progress("write", start + len(chunk), len(rows))
    summary.numbers = numbers
    return summary


async def _match_customers(session: AsyncSession, raw, rows: list[Row], summary: ImportSummary) -> list[int]:
    """The customer of each row: by Telegram id, else by phone, among existing customers and the
    ones this file creates; else a new customer."""
    telegram_ids = list({r.telegram_id for r in rows if r.telegram_id is not None})
    phones = list({r.phone for r in rows if r.phone})
    by_tg: dict[int, int] = {}
    by_phone: dict[str, int] = {}
    if telegram_ids:
        found = await session.execute(
            select(Customer.telegram_user_id, Customer.id).where(Customer.telegram_user_id.in_(telegram_ids))
        )
        by_tg.update(dict(found.all()))
    if phones:
        found = await session.execute(
            select(Customer.phone, func.min(Customer.id)).where(Customer.phone.in_(phones)).group_by(Customer.phone)
        )
        by_phone.update(dict(found.all()))

    new: list[tuple[Any, ...]] = []  # (slot, name, phone, telegram id)
    slot_of_row: list[int | tuple[str, int]] = []
    for row in rows:
        ident: Any = None
        if row.telegram_id is not None:
            ident = by_tg.get(row.telegram_id)
        if ident is None and row.phone:
            ident = by_phone.get(row.phone)
        if ident is None:
            ident = ("new", len(new))
            new.append((ident, row.customer_name[:255], row.phone, row.telegram_id))
            if row.telegram_id is not None:
                by_tg[row.telegram_id] = ident
            if row.phone:
                by_phone.setdefault(row.phone, ident)
        slot_of_row.append(ident)

    ids = await _next_ids(raw, "customer", len(new))
    if new:
        now = utcnow()
        await raw.copy_records_to_table(
            "customer",
            records=[(ids[n], name, phone, tg, tg, "ru", now) for n, (_, name, phone, tg) in enumerate(new)],
            columns=("id", "name", "phone", "telegram_user_id", "telegram_chat_id", "language", "created_at"),
        )
    summary.customers = len(new)
    return [ids[slot[1]] if isinstance(slot, tuple) else slot for slot in slot_of_row]


async def _numbers(session: AsyncSession, rows: list[Row], tz: ZoneInfo) -> list[str]:
    """Given numbers kept (the counter moved past them); the rest take a block per local year."""
    highest: dict[int, str] = {}
    for row in rows:
        if row.number:
            year, _, seq = row.number.partition("-")
            if year.isdigit() and seq.isdigit():
                value = int(year), int(seq)
                current = highest.get(value[0])
                if current is None or int(current.partition("-")[2]) < value[1]:
                    highest[value[0]] = row.number
    for number in highest.values():
        await reserve_claim_number(session, number=number)

    needed: dict[int, int] = defaultdict(int)
    for row in rows:
        if not row.number:
            needed[row.registered_at.astimezone(tz).year] += 1
    next_value: dict[int, int] = {}
    for year, count in needed.items():
        # Same upsert as numbering.next_claim_number, taking `count` numbers at once under the row lock.
        last = (
            await session.execute(
                text(
                    "INSERT INTO claim_number_counter (year, last_value) VALUES (:year, :n) "
                    "ON CONFLICT (year) DO UPDATE SET last_value = claim_number_counter.last_value + :n "
                    "RETURNING last_value"
                ),
                {"year": year, "n": count},
            )
        ).scalar_one()
        next_value[year] = last - count + 1
    out: list[str] = []
    for row in rows:
        if row.number:
            out.append(row.number)
        else:
            year = row.registered_at.astimezone(tz).year
            out.append(format_number(year, next_value[year]))
            next_value[year] += 1
    return out
