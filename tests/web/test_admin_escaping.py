"""Markup typed into names shows as text on the reports, catalogs, users and new-claim pages: no
element is made of it and no script runs."""

from __future__ import annotations

from shared.actors import Actor
from shared.catalogs.models import Department, Reason
from shared.claims.service import NewClaim, register_claim
from shared.enums import Role
from shared.i18n import get_translator
from shared.staff.service import create_user
from tests.factories import make_customer
from tests.web.conftest import PASSWORD, Desk, assert_accessible

ru = get_translator("ru")
EVIL = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"


async def test_markup_in_names_is_text_everywhere(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        reason = Reason(name=EVIL)
        department = Department(name=SCRIPT)
        session.add_all([reason, department])
        await session.flush()
        customer = await make_customer(session, name=EVIL)
        await register_claim(
            session,
            claim_in=NewClaim(
                customer_id=customer.id,
                description=SCRIPT,
                reason_id=reason.id,
                culprit_department_id=department.id,
            ),
            actor=Actor.customer(customer.id),
        )
        await create_user(session, login="evil", password=PASSWORD, role=Role.OPERATOR, full_name=EVIL)
        await session.commit()
    dialogs: list[str] = []
    page = await signed_in("admin")
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    checks = [
        ("/catalogs/reasons", "table.entries"),
        ("/catalogs/departments", "table.entries"),
        (f"/catalogs/reasons/{reason.id}", "form"),
        ("/users", "table.entries"),
        ("/reports?report=structure", "table.report-table"),
        ("/reports?report=satisfaction", "form.report-form"),
        ("/claims/new?customer_q=img", "#customer-matches"),
    ]
    for path, where in checks:
        await page.goto(desk.url + path)
        main = page.locator("main")
        text = await main.inner_text()
        assert EVIL in text or SCRIPT in text or path.startswith("/reports?report=satisfaction"), path
        assert await main.locator(f"{where} img, {where} script").count() == 0, path
    # The names reach the selects as text too (the filters and the new-claim form).
    await page.goto(desk.url + "/reports")
    options = await page.locator("#f-reason option").all_text_contents()
    assert EVIL in options
    await page.goto(desk.url + f"/catalogs/reasons/{reason.id}")
    assert await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).input_value() == EVIL
    await assert_accessible(page)
    assert dialogs == []
