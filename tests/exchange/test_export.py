"""Export in the import's columns; export then import into an empty desk gives the same reports."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import func, select, text

from shared.actors import Actor
from shared.catalogs.models import Department
from shared.claims.filters import ClaimFilters
from shared.claims.models import Claim
from shared.claims.service import NewClaim, register_claim
from shared.enums import Channel
from shared.exchange import COLUMNS, export_csv, export_xlsx, import_claims
from shared.models import Base
from shared.reports import REPORTS, run_report
from tests.factories import make_customer, make_staff
from tests.reports.conftest import MOSCOW

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
Q1 = {"from": "2026-01-01", "to": "2026-04-30"}
SAME = [
    ("dynamics", {}),
    ("dynamics", {"by": "department"}),
    ("dynamics", {"by": "reason", "granularity": "day"}),
    ("satisfaction", {}),
    ("structure", {}),
]


async def reports_of(db) -> dict:
    out = {}
    async with db() as session:
        for name, extra in SAME:
            report = await run_report(session, name, REPORTS[name].params(**Q1, **extra), tz=MOSCOW)
            out[(name, tuple(extra.items()))] = report.as_json()
    return out


async def wipe(engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


async def test_export_then_import_into_an_empty_desk_gives_the_same_reports(db, engine, dataset) -> None:
    before = await reports_of(db)
    async with db() as session:
        exported = await export_csv(session, tz=MOSCOW)
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 9
    c4 = next(r for r in rows if r["registered_at"] == "2026-02-01T01:30:00+03:00")
    assert (c4["reason"], c4["culprit_department"], c4["status"], c4["result"]) == ("Опоздание", "", "in_progress", "")
    assert "\n" in rows[0]["description"] and rows[0]["amount_claimed"] == "1500.50"

    await wipe(engine)  # an empty desk: no claims, customers or catalogs; its staff are set up anew
    async with db() as session:
        await make_staff(session, login=dataset.staff_login)
        summary = await import_claims(session, data=exported, actor=Actor.system(), tz=MOSCOW)
        await session.commit()
    assert (summary.claims, summary.customers, summary.departments, summary.reasons, summary.employees) == (
        9,
        1,
        3,
        2,
        2,
    )
    assert await reports_of(db) == before
    async with db() as session:
        again = await export_csv(session, tz=MOSCOW)
    assert again == exported  # and the export of the import is the same file, byte for byte


async def test_export_follows_the_claims_list_filters_and_xlsx_is_typed(db, dataset) -> None:
    async with db() as session:
        phone_only = await export_csv(session, tz=MOSCOW, filters=ClaimFilters(channel="phone"))
        march = await export_csv(
            session,
            tz=MOSCOW,
            filters=ClaimFilters(
                registered_from=datetime(2026, 3, 1).date(), registered_to=datetime(2026, 3, 31).date()
            ),
        )
        workbook = load_workbook(io.BytesIO(await export_xlsx(session, tz=MOSCOW)))
    assert len(list(csv.DictReader(io.StringIO(phone_only.decode("utf-8-sig"))))) == 1
    assert len(list(csv.DictReader(io.StringIO(march.decode("utf-8-sig"))))) == 3  # c6, c8 (local 1 March), c9
    sheet = workbook["claims"]
    assert [c.value for c in sheet[1]] == list(COLUMNS)
    assert sheet.freeze_panes == "B2"
    first = {k: c.value for k, c in zip(COLUMNS, sheet[2], strict=True)}
    assert first["registered_at"] == datetime(2026, 1, 10, 12, 0)  # 09:00 UTC as Moscow wall-clock time
    assert first["amount_claimed"] == Decimal("1500.5") or first["amount_claimed"] == 1500.5
    assert sheet.max_row == 10


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run(
        [sys.executable, "-m", "claimdesk", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


async def test_cli_import_reports_bad_rows_and_exits_1_then_imports_a_good_file(db, tmp_path) -> None:
    header = ",".join(COLUMNS)
    good = (
        "\n".join(
            [
                header,
                ',2026-01-05T10:00:00,Анна,+79000000001,,phone,,"Много\nстрок",,Брак,Склад,,,new,,,,,,',
                ",2026-01-06T10:00:00,Анна,+79000000001,,phone,,Ещё,,Брак,Склад,,,closed,rejected,Нет,2026-01-07,,,",
            ]
        )
        + "\n"
    )
    bad = good + ",завтра,Анна,,,phone,,x,,,,,,new,,,,,,\n"
    (tmp_path / "bad.csv").write_text(bad, encoding="cp1251")
    (tmp_path / "good.csv").write_text(good, encoding="utf-8")
    failed = run_cli("import", "claims", str(tmp_path / "bad.csv"))
    assert failed.returncode == 1, failed.stderr
    assert "bad.csv: line 5, column registered_at: Not an ISO 8601 date and time" in failed.stderr
    assert "nothing imported: 1 problem(s)" in failed.stderr
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Claim)) == 0
    done = run_cli("import", "claims", str(tmp_path / "good.csv"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        "imported 2 claims, 1 new customers, 1 new departments, 0 new employees, 1 new reasons"
    )
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Claim)) == 2


FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "=1+2",
    "-5 over budget",
    "+1 call back",
    "@SUM(A1)",
    "'=already quoted",
    "''-two quotes",
    "'plain quote",
]


async def test_text_a_spreadsheet_would_run_is_quoted_and_still_round_trips(db, engine) -> None:
    async with db() as session:
        department = Department(name="=1+2")
        session.add(department)
        await session.flush()
        for n, value in enumerate(FORMULAS):
            customer = await make_customer(session, name=value)
            await register_claim(
                session,
                actor=Actor.system(),
                claim_in=NewClaim(
                    customer_id=customer.id,
                    description=value,
                    subject=value,
                    culprit_department_id=department.id,
                    channel=Channel.PHONE,
                    registered_at=datetime(2026, 1, 10 + n, 9, tzinfo=UTC),
                ),
            )
        await session.commit()
        exported = await export_csv(session, tz=MOSCOW)
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    assert [r["description"] for r in rows] == [
        "'" + v if v.lstrip("'")[:1] in ("=", "+", "-", "@", "\t") else v for v in FORMULAS
    ]
    assert rows[0]["culprit_department"] == "'=1+2" and rows[0]["customer_phone"].startswith("+7")

    await wipe(engine)
    async with db() as session:
        await import_claims(session, data=exported, actor=Actor.system(), tz=MOSCOW)
        await session.commit()
        descriptions = (await session.scalars(select(Claim.description).order_by(Claim.registered_at))).all()
        assert descriptions == FORMULAS
        assert await export_csv(session, tz=MOSCOW) == exported  # byte for byte
