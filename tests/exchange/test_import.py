"""CSV import: encodings, delimiters, quoted multi-line fields, every bad row reported and nothing
imported, customers matched, catalogs created, numbers kept ahead, one audit event per claim."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.catalogs.models import Department, Employee, Reason
from shared.claims.models import Claim
from shared.claims.service import NewClaim, register_claim
from shared.customers.models import Customer
from shared.exchange import ImportRejected, import_claims
from shared.exchange.columns import COLUMNS
from shared.reports.structure import StructureParams, structure_report
from shared.text_limits import LONG_TEXT
from tests.exchange.cfpb import CFPB_SAMPLE, cfpb_as_claims_csv, cfpb_narratives
from tests.factories import make_customer, make_staff
from tests.reports.conftest import MOSCOW


def make_csv(rows: list[dict[str, str]], *, columns=COLUMNS, delimiter=",", encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), delimiter=delimiter, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def row(**values: str) -> dict[str, str]:
    base = {
        "registered_at": "2026-03-02T10:00:00+03:00",
        "customer_name": "Иван Орлов",
        "customer_phone": "+7 (912) 000-11-22",
        "channel": "phone",
        "description": "Холодильник пришёл с вмятиной",
        "status": "new",
    }
    return base | values


async def count(session, model) -> int:
    return await session.scalar(select(func.count()).select_from(model))


async def test_a_file_with_bad_rows_reports_each_and_imports_nothing(db) -> None:
    async with db() as session:
        await make_staff(session, login="anna")
        await session.commit()
    rows = [
        row(description="Первая строка\nвторая строка\nтретья", culprit_department="Новый отдел"),  # line 2-4
        row(registered_at="вчера"),  # line 5
        row(status="resolved"),  # line 6: no result, no resolved_at
        row(status="new", result="satisfied", customer_phone="12"),  # line 7
        row(description="", channel="pigeon", amount_claimed="-5"),  # line 8
        row(status="closed", result="rejected", resolved_at="2026-03-01T10:00:00+03:00"),  # line 9: before reg.
        row(responsible="nobody", customer_telegram_id="abc", number="2026-000001"),  # line 10
        row(number="2026-000001", reason="Новая причина"),  # line 11: number repeats line 10
    ]
    data = make_csv(rows)
    async with db() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
        await session.commit()  # even a commit after the refusal leaves nothing behind
    found = [(e.line, e.column, e.code) for e in caught.value.errors]
    assert found == [
        (5, "registered_at", "bad_timestamp"),
        (6, "result", "result_required"),
        (6, "resolved_at", "resolved_at_required"),
        (7, "customer_phone", "bad_phone"),
        (7, "result", "result_forbidden"),
        (8, "channel", "bad_choice"),
        (8, "description", "subject_or_description_required"),
        (8, "amount_claimed", "bad_amount"),
        (9, "resolved_at", "before"),
        (10, "customer_telegram_id", "bad_telegram_id"),
        (10, "responsible", "unknown_staff"),  # checked against the staff even though the row is bad already
        (11, "number", "number_repeated"),
    ]
    assert [e.line for e in caught.value.errors] == sorted(e.line for e in caught.value.errors)
    messages = {e.code: e.reason() for e in caught.value.errors}
    assert messages["bad_choice"].startswith("Must be one of: telegram, phone")
    async with db() as session:
        for model in (Claim, Customer, Department, Reason, ClaimEvent):
            assert await count(session, model) == 0, model


async def test_unknown_staff_and_taken_numbers_are_checked_against_the_database(db) -> None:
    async with db() as session:
        customer = await make_customer(session)
        await register_claim(
            session,
            claim_in=NewClaim(customer_id=customer.id, description="x", number="2026-000007"),
            actor=Actor.system(),
        )
        await session.commit()
    data = make_csv([row(number="2026-000007"), row(responsible="ghost")])
    async with db() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [
        (2, "number", "number_taken"),
        (3, "responsible", "unknown_staff"),
    ]


async def test_header_problems_are_reported_on_line_one(db) -> None:
    data = b"registered_at;customer_name;colour;status;status\n2026-01-01;x;red;new;new\n"
    async with db() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
    errors = {(e.line, e.column, e.code) for e in caught.value.errors}
    assert (1, "colour", "unknown_column") in errors and (1, "status", "duplicate_column") in errors
    assert all(e.line == 1 for e in caught.value.errors)
    # Every missing required column named in one error.
    (missing,) = [e for e in caught.value.errors if e.code == "missing_columns"]
    assert missing.params == {"columns": "subject/description"}
    for data in (b"", b"number,registered_at\n", "\u0098".encode("latin-1") * 3):
        async with db() as session:
            with pytest.raises(ImportRejected):
                await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)


async def test_only_four_columns_are_required_and_every_missing_one_is_named_at_once(db) -> None:
    data = b"customer_phone,amount_claimed\n+79120001122,100\n"
    async with db() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
    (error,) = caught.value.errors
    assert (error.line, error.column, error.code) == (1, None, "missing_columns")
    assert error.reason() == (
        "Required columns missing from the header: registered_at, customer_name, status, subject/description"
    )
    from shared.i18n import get_translator

    assert error.reason(get_translator("ru")).startswith("В заголовке нет обязательных колонок: registered_at")

    # The four (with a subject instead of a description) are enough; the rest may be left out.
    minimal = make_csv(
        [
            {"registered_at": "2026-03-02 10:00", "customer_name": "Иван", "subject": "Вмятина", "status": "new"},
            {"registered_at": "2026-03-03 10:00", "customer_name": "Ольга", "subject": "", "status": "in_progress"},
        ],
        columns=("registered_at", "customer_name", "subject", "status"),
    )
    async with db() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_claims(session, data=minimal, actor=Actor.system(), tz=MOSCOW)
    assert [(e.line, e.column, e.code) for e in caught.value.errors] == [
        (3, "description", "subject_or_description_required")
    ]
    minimal = minimal.replace("Ольга,,".encode(), "Ольга,Не пришёл курьер,".encode())
    async with db() as session:
        summary = await import_claims(session, data=minimal, actor=Actor.system(), tz=MOSCOW)
        await session.commit()
    assert (summary.claims, summary.customers) == (2, 2)
    async with db() as session:
        claims = (await session.scalars(select(Claim).order_by(Claim.id))).all()
    assert [(c.subject, c.description, c.channel, c.status) for c in claims] == [
        ("Вмятина", "Вмятина", "import", "new"),
        ("Не пришёл курьер", "Не пришёл курьер", "import", "in_progress"),
    ]


async def test_broken_quotes_are_reported_at_the_record_start(db) -> None:
    good = make_csv([row(), row()]).decode()
    data = (good + '"2026-01-01,"unterminated\n').encode()
    async with db() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
    assert [(e.line, e.code) for e in caught.value.errors] == [(4, "broken_quotes")]


@pytest.mark.parametrize(("encoding", "delimiter"), [("cp1251", ";"), ("utf-8-sig", ","), ("utf-8", ";")])
async def test_a_good_file_imports_in_any_encoding_delimiter_and_column_order(db, encoding, delimiter) -> None:
    async with db() as session:
        staff = await make_staff(session, login="anna")
        existing = await make_customer(session, name="Старый клиент")
        existing.phone = "+79120001122"
        delivery = Department(name="Доставка")
        session.add(delivery)
        await session.commit()
    columns = list(reversed([c for c in COLUMNS if c != "number"]))
    rows = [
        # matched by phone to the existing customer; naive time is Moscow time
        row(
            registered_at="2026-01-31 23:59:00",
            description='Опоздание; снова\n"курьер" не пришёл',
            culprit_department="Доставка",
            culprit_employee="Петров",
            reason="Опоздание",
            responsible="ANNA",
            requirement="refund",
            amount_claimed="1 500,50",
        ),
        # a new customer by Telegram id, decided and closed
        row(
            registered_at="2026-02-01T00:30:00+03:00",
            customer_phone="",
            customer_telegram_id="555",
            customer_name="Пётр",
            status="closed",
            result="satisfied",
            resolved_at="2026-02-03T12:00:00Z",
            resolution="Вернули деньги",
            requirement="Верните деньги и извинитесь",
            amount_granted="100",
        ),
        # the same Telegram user again (matched within the file), no phone
        row(
            customer_phone="",
            customer_telegram_id="555",
            customer_name="Пётр",
            culprit_employee="Петров",
            status="in_progress",
        ),
        # the same new phone twice: one customer
        row(customer_phone="8 900 123 45 67", customer_name="Мария", channel=""),
        row(customer_phone="+79001234567", customer_name="Мария"),
    ]
    data = make_csv(rows, columns=columns, delimiter=delimiter, encoding=encoding)
    async with db() as session:
        summary = await import_claims(session, data=data, actor=Actor.staff(staff.id), tz=MOSCOW)
        await session.commit()
    assert summary.as_dict() == {"claims": 5, "customers": 2, "departments": 0, "employees": 1, "reasons": 1}
    assert summary.encoding == encoding and summary.delimiter == delimiter
    async with db() as session:
        claims = (await session.scalars(select(Claim).order_by(Claim.id))).all()
        first, second, third, fourth, fifth = claims
        assert first.registered_at == datetime(2026, 1, 31, 20, 59, tzinfo=UTC)
        assert first.description == 'Опоздание; снова\n"курьер" не пришёл'
        assert first.customer_id == existing.id and first.responsible_id == staff.id
        assert (first.remedy, first.remedy_text, first.amount_claimed) == ("refund", None, Decimal("1500.50"))
        assert first.culprit_department_id == delivery.id and first.subject == "Опоздание; снова"
        assert (second.status, second.result, second.closed_at) == ("closed", "satisfied", second.resolved_at)
        assert (second.remedy, second.remedy_text) == ("other", "Верните деньги и извинитесь")
        assert third.customer_id == second.customer_id != first.customer_id
        assert fourth.customer_id == fifth.customer_id and fourth.channel == "import"
        # "Петров" with Доставка and "Петров" with no department are one person: one employee, in Доставка.
        assert first.culprit_employee_id == third.culprit_employee_id
        petrov = await session.get_one(Employee, first.culprit_employee_id)
        assert petrov.department_id == delivery.id
        assert [c.number for c in claims] == ["2026-000001", "2026-000002", "2026-000003", "2026-000004", "2026-000005"]
        assert first.due_at is not None and first.version == 1
        events = (await session.scalars(select(ClaimEvent).order_by(ClaimEvent.id))).all()
        assert [(e.claim_id, e.kind, e.actor_kind, e.actor_staff_id) for e in events] == [
            (c.id, "imported", "staff", staff.id) for c in claims
        ]
        assert events[0].after == {"number": "2026-000001", "status": "new", "line": 2}
        assert await count(session, Employee) == 1
        # the search vector is computed for imported claims too
        hit = await session.scalar(
            select(Claim.id).where(Claim.search_vector.op("@@")(func.plainto_tsquery("russian", "курьер")))
        )
        assert hit == first.id


async def test_one_person_is_one_employee_whatever_the_department(db) -> None:
    """Employees are matched by name: a person named with several departments is created once (in
    the first department named), an existing one is reused; the structure report lists each
    employee once, with their id and department."""
    async with db() as session:
        sales = Department(name="Продажи")
        session.add(sales)
        await session.flush()
        session.add(Employee(name="Сидорова", department_id=sales.id))
        await session.commit()
    data = make_csv(
        [
            row(culprit_employee="Петров"),
            row(culprit_employee="Петров", culprit_department="Доставка"),
            row(culprit_employee="Петров", culprit_department="Склад"),
            row(culprit_employee="Сидорова", culprit_department="Склад"),
            row(culprit_employee="Сидорова"),
        ]
    )
    async with db() as session:
        summary = await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
        await session.commit()
    assert (summary.employees, summary.departments) == (1, 2)
    async with db() as session:
        employees = {e.name: e for e in (await session.scalars(select(Employee))).all()}
        assert set(employees) == {"Петров", "Сидорова"}
        departments = dict((await session.execute(select(Department.name, Department.id))).all())
        assert employees["Петров"].department_id == departments["Доставка"]
        claims = (await session.scalars(select(Claim).order_by(Claim.id))).all()
        assert [c.culprit_employee_id for c in claims] == [employees["Петров"].id] * 3 + [employees["Сидорова"].id] * 2
        # The claim keeps the department its row named.
        assert claims[2].culprit_department_id == departments["Склад"]
        report = await structure_report(
            session, params=StructureParams(**{"from": "2026-03-01", "to": "2026-03-31"}), tz=MOSCOW
        )
    assert [(r.employee_id, r.employee, r.department, r.count) for r in report.by_employee] == [
        (employees["Петров"].id, "Петров", "Доставка", 3),
        (employees["Сидорова"].id, "Сидорова", "Продажи", 2),
    ]


async def test_numbers_in_the_file_keep_the_counter_ahead(db) -> None:
    data = make_csv([row(number="2026-000050"), row(number="IMPORTED-1"), row()], columns=COLUMNS)
    async with db() as session:
        summary = await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
        await session.commit()
    assert summary.numbers == ["2026-000050", "IMPORTED-1", "2026-000051"]
    async with db() as session:
        customer = await make_customer(session)
        claim = await register_claim(
            session,
            claim_in=NewClaim(
                customer_id=customer.id, description="после импорта", registered_at=datetime(2026, 5, 1, tzinfo=UTC)
            ),
            actor=Actor.system(),
        )
        assert claim.number == "2026-000052"


@pytest.mark.skipif(not CFPB_SAMPLE.exists(), reason=f"the CFPB sample is not at {CFPB_SAMPLE}")
async def test_the_real_cfpb_sample_imports(db) -> None:
    data = cfpb_as_claims_csv()
    async with db() as session:
        summary = await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
        await session.commit()
    assert summary.claims == 6623 and summary.customers == 6623
    assert summary.reasons == 13 and summary.departments == 710  # products and companies
    async with db() as session:
        report = await structure_report(
            session, params=StructureParams(**{"from": "2015-01-01", "to": "2020-12-31"}), tz=MOSCOW
        )
        assert report.total == 6623
        assert report.by_reason[0].reason.startswith("Credit reporting") and report.by_reason[0].count == 3503
        narrated = await session.scalar(select(func.count()).select_from(Claim).where(Claim.description.contains("\n")))
        assert narrated > 100  # multi-line narratives survived the quoting
        # Every narrative whole, the longest (21,928 characters) included: nothing shortened.
        stored = dict((await session.execute(select(Claim.number, Claim.description))).all())
    narratives = cfpb_narratives()
    longest = max(narratives, key=lambda ident: len(narratives[ident]))
    assert len(narratives[longest]) == 21_928
    assert stored[f"CFPB-{longest}"] == narratives[longest]
    assert all(stored[f"CFPB-{ident}"] == text for ident, text in narratives.items() if text)


async def test_a_text_over_the_limit_is_refused_with_its_line(db) -> None:
    data = make_csv([row(), row(description="д" * (LONG_TEXT + 1)), row(resolution="x" * LONG_TEXT)])
    async with db() as session:
        with pytest.raises(ImportRejected) as caught:
            await import_claims(session, data=data, actor=Actor.system(), tz=MOSCOW)
    # The row over the limit is named; a text of exactly the limit (line 4) is fine.
    assert [(e.line, e.column, e.code, e.params) for e in caught.value.errors] == [
        (3, "description", "too_long", {"limit": LONG_TEXT})
    ]
    assert LONG_TEXT >= 100_000
