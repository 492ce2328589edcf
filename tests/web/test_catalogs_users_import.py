"""Catalogs, users and the CSV import in the browser: add, edit, deactivate through the shared
services with refusals in words; the starter set of an empty desk, once; operators refused; a form
without its CSRF token refused; the import's error report with every bad row's line and column."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from shared.audit.models import DeskEvent
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.starter import DEPARTMENTS, REASONS
from shared.claims.models import Claim
from shared.enums import Role
from shared.i18n import get_translator
from shared.staff.models import StaffUser
from tests.web.conftest import PASSWORD, STAFF, Desk, assert_accessible, screenshot

ru = get_translator("ru")
en = get_translator("en")
HEADER = (
    "registered_at;customer_name;customer_phone;channel;subject;description;requirement;reason;"
    "culprit_department;culprit_employee;responsible;status;result;resolution;resolved_at;closed_at;"
    "amount_claimed;amount_granted"
)


async def _count(desk: Desk, model) -> int:
    async with desk.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_the_starter_set_fills_empty_catalogs_once(desk: Desk, signed_in) -> None:
    page = await signed_in("manager")
    await page.goto(desk.url + "/catalogs")
    await page.wait_for_url("**/catalogs/departments")
    await page.get_by_role("heading", name=ru("web.admin.starter.title")).wait_for()
    await assert_accessible(page)
    await screenshot(page, "catalogs-empty")
    await page.get_by_role("button", name=ru("web.admin.starter.add")).click()
    await page.get_by_role("status").filter(has_text=ru("web.admin.catalogs.done.starter")).wait_for()
    # The desk's language (DEFAULT_LANGUAGE=ru), as the catalogs' texts say.
    assert await page.get_by_role("rowheader", name=ru("starter.reason.late_delivery")).count() == 1
    assert await page.get_by_role("button", name=ru("web.admin.starter.add")).count() == 0
    assert await _count(desk, Department) == len(DEPARTMENTS) and await _count(desk, Reason) == len(REASONS)
    async with desk.sessions() as session:
        (event,) = (await session.scalars(select(DeskEvent))).all()
        assert event.kind == "starter_set_added" and event.actor_staff_id == desk.user_ids["manager"]
    # Posted again (a second tab, a double click): refused in words, nothing doubled.
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with aiohttp.ClientSession(cookies=cookies) as client:
        async with client.post(desk.url + "/catalogs/starter-set", data={"csrf_token": token}) as response:
            assert response.status == 409
            assert ru("web.admin.refused.conflict.starter_set") in await response.text()
    assert await _count(desk, Department) == len(DEPARTMENTS)


async def test_a_manager_adds_edits_and_deactivates_entries(desk: Desk, signed_in) -> None:
    page = await signed_in("manager")
    await page.goto(desk.url + "/catalogs/departments")
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("Склад")
    await page.get_by_role("button", name=ru("web.admin.catalogs.add_button"), exact=True).click()
    await page.get_by_role("status").filter(has_text="«Склад» добавлено.").wait_for()
    # The same name again: refused, in words, the form as typed.
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("Склад")
    await page.get_by_role("button", name=ru("web.admin.catalogs.add_button"), exact=True).click()
    alert = page.get_by_role("alert")
    await alert.wait_for()
    assert await alert.inner_text() == ru("web.admin.refused.conflict.name", name="Склад")
    assert await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).input_value() == "Склад"
    # An employee of that department.
    await page.get_by_role("link", name=ru("web.admin.catalogs.employees")).click()
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("Пётр Кладовщиков")
    await page.get_by_label(ru("web.admin.catalogs.department"), exact=True).select_option(label="Склад")
    await page.get_by_label(ru("web.admin.catalogs.position"), exact=True).fill("Кладовщик")
    await page.get_by_role("button", name=ru("web.admin.catalogs.add_button"), exact=True).click()
    await page.get_by_role("status").wait_for()
    row = page.get_by_role("row").filter(has_text="Пётр Кладовщиков")
    assert "Склад" in await row.inner_text() and "Кладовщик" in await row.inner_text()
    # Edit: rename; an empty name is refused.
    await page.get_by_role("link", name=ru("web.admin.edit_named", name="Пётр Кладовщиков")).click()
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("   ")
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).evaluate("e => e.removeAttribute('required')")
    await page.get_by_role("button", name=ru("web.admin.save")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.admin.refused.invalid.name")).wait_for()
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("Пётр Складской")
    await page.get_by_role("button", name=ru("web.admin.save")).click()
    await page.get_by_role("status").filter(has_text="«Пётр Складской» сохранено.").wait_for()
    # Deactivate and activate again.
    await page.get_by_role("button", name=ru("web.admin.deactivate_named", name="Пётр Складской")).click()
    await page.get_by_role("status").filter(has_text="«Пётр Складской» отключено.").wait_for()
    async with desk.sessions() as session:
        employee = await session.scalar(select(Employee))
        assert employee is not None and employee.name == "Пётр Складской" and not employee.active
    await page.get_by_role("button", name=ru("web.admin.activate_named", name="Пётр Складской")).click()
    await page.get_by_role("status").filter(has_text="«Пётр Складской» снова действует.").wait_for()
    await assert_accessible(page)
    await page.get_by_role("link", name=ru("web.admin.catalogs.reasons")).click()
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("Опоздание")
    await page.get_by_role("button", name=ru("web.admin.catalogs.add_button"), exact=True).click()
    await page.get_by_role("status").wait_for()
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("Опоздание курьера")
    await page.get_by_label(ru("web.admin.catalogs.parent"), exact=True).select_option(label="Опоздание")
    await page.get_by_role("button", name=ru("web.admin.catalogs.add_button"), exact=True).click()
    await page.get_by_role("status").wait_for()
    await assert_accessible(page)
    await screenshot(page, "catalogs-reasons")


async def test_operators_are_refused_the_users_page_and_the_catalogs_forms(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        session.add(Department(name="Доставка"))
        await session.commit()
    page = await signed_in("operator")
    await page.goto(desk.url + "/")
    for label in ("web.admin.nav.users", "web.admin.nav.catalogs", "web.reports.nav"):
        assert await page.get_by_role("link", name=ru(label)).count() == 0
    for path in ("/users", "/users/1", "/catalogs/departments", "/catalogs/departments/1", "/catalogs/import"):
        response = await page.goto(desk.url + path)
        assert response is not None and response.status == 403, path
        await page.get_by_role("alert").filter(has_text=ru("web.error.forbidden_page")).wait_for()
    # Posting the forms anyway (with the operator's own valid token) changes nothing.
    token = await page.locator("input[name=csrf_token]").first.get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with aiohttp.ClientSession(cookies=cookies) as client:
        for path, data in (
            ("/catalogs/departments", {"name": "Взлом"}),
            ("/catalogs/departments/1/deactivate", {}),
            ("/users", {"login": "mallory", "password": "x" * 12, "role": "admin"}),
            ("/catalogs/starter-set", {}),
        ):
            async with client.post(desk.url + path, data={**data, "csrf_token": token}) as response:
                assert response.status == 403, path
    async with desk.sessions() as session:
        assert (await session.scalars(select(Department.name))).all() == ["Доставка"]
        assert await session.scalar(select(StaffUser.id).where(StaffUser.login == "mallory")) is None
    # A manager is refused the users page too; an admin sees it.
    manager = await signed_in("manager")
    response = await manager.goto(desk.url + "/users")
    assert response is not None and response.status == 403


async def test_a_form_without_its_csrf_token_is_refused(desk: Desk, signed_in) -> None:
    page = await signed_in("manager")
    await page.goto(desk.url + "/catalogs/departments")
    await page.locator("form.form-grid input[name=csrf_token]").evaluate("e => e.remove()")
    await page.get_by_label(ru("web.admin.catalogs.name"), exact=True).fill("Подделка")
    await page.get_by_role("button", name=ru("web.admin.catalogs.add_button"), exact=True).click()
    await page.get_by_role("alert").filter(has_text=ru("web.error.csrf")).wait_for()
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with aiohttp.ClientSession(cookies=cookies) as client:
        async with client.post(desk.url + "/catalogs/departments", data={"name": "Подделка"}) as response:
            assert response.status == 403
        async with client.post(
            desk.url + "/catalogs/departments", data={"name": "Подделка", "csrf_token": "forged"}
        ) as response:
            assert response.status == 403
    assert await _count(desk, Department) == 0


async def test_an_admin_manages_users(desk: Desk, signed_in, anonymous) -> None:
    page = await signed_in("admin")
    await page.goto(desk.url + "/users")
    await page.get_by_label(ru("web.admin.users.full_name"), exact=True).fill("Нина Новикова")
    await page.get_by_label(ru("web.admin.users.login"), exact=True).fill("nina")
    await page.get_by_label(ru("web.admin.users.password"), exact=True).fill("short")
    await page.get_by_label(ru("web.admin.users.password"), exact=True).evaluate("e => e.removeAttribute('minlength')")
    await page.get_by_label(ru("web.admin.users.role"), exact=True).select_option("manager")
    await page.get_by_role("button", name=ru("web.admin.users.add_button")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.admin.refused.invalid.password")).wait_for()
    assert await page.get_by_label(ru("web.admin.users.login"), exact=True).input_value() == "nina"
    await page.get_by_label(ru("web.admin.users.password"), exact=True).fill(PASSWORD)
    await page.get_by_role("button", name=ru("web.admin.users.add_button")).click()
    await page.get_by_role("status").filter(has_text="«Нина Новикова» добавлен").wait_for()
    # The login is taken now.
    await page.get_by_label(ru("web.admin.users.login"), exact=True).fill("NINA")
    await page.get_by_label(ru("web.admin.users.password"), exact=True).fill(PASSWORD)
    await page.get_by_role("button", name=ru("web.admin.users.add_button")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.admin.refused.conflict.login", login="NINA")).wait_for()
    await assert_accessible(page)
    await screenshot(page, "users")
    # The only admin cannot take away their own admin role.
    await page.get_by_role("link", name=ru("web.admin.edit_named", name=dict(STAFF)[Role.ADMIN])).click()
    await page.get_by_label(ru("web.admin.users.role"), exact=True).select_option("operator")
    await page.get_by_role("button", name=ru("web.admin.save")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.admin.refused.conflict.role")).wait_for()
    await assert_accessible(page)
    # Nina can sign in; deactivated, she cannot.
    await anonymous.goto(desk.url + "/signin")
    await anonymous.get_by_label(ru("web.signin.login"), exact=True).fill("nina")
    await anonymous.get_by_label(ru("web.signin.password"), exact=True).fill(PASSWORD)
    await anonymous.get_by_role("button", name=ru("web.signin.submit")).click()
    await anonymous.wait_for_url(desk.url + "/")
    await page.goto(desk.url + "/users")
    await page.get_by_role("button", name=ru("web.admin.deactivate_named", name="Нина Новикова")).click()
    await page.get_by_role("status").filter(has_text="«Нина Новикова» отключён").wait_for()
    await anonymous.goto(desk.url + "/catalogs")
    assert "/signin" in anonymous.url  # her session ended with the deactivation


async def test_the_import_page_shows_a_bad_files_error_report(desk: Desk, signed_in, tmp_path: Path) -> None:
    page = await signed_in("manager")
    await page.goto(desk.url + "/catalogs/import")
    await assert_accessible(page)
    good_row = "2026-01-05 10:00;Анна;+79000000001;phone;;Сломан чайник;;Брак;Склад;;manager;new;;;;;;"
    bad = tmp_path / "claims.csv"
    bad.write_bytes(
        (
            HEADER
            + "\n"
            + good_row
            + "\n2026-01-06;Борис;;fax;;x;;;;;;new;;;;;;\n"
            + "06.01.2026;Вера;+7 999;phone;;y;;;;;;closed;;;;;abc;\n"
        ).encode("cp1251")
    )
    await page.get_by_label(ru("web.admin.import.file"), exact=True).set_input_files(str(bad))
    await page.get_by_role("button", name=ru("web.admin.import.submit")).click()
    heading = page.get_by_role("heading", name=ru("web.admin.import.rejected", count="6", file="claims.csv"))
    await heading.wait_for()
    rows = await page.locator("table.errors-list tbody tr").all_inner_texts()
    cells = [r.split("\t") for r in rows]
    assert ["3", "channel"] == cells[0][:2]
    assert ["4", "registered_at"] == cells[1][:2]
    assert {c[1] for c in cells if c[0] == "4"} >= {"registered_at", "customer_phone", "amount_claimed"}
    assert all(c[2] for c in cells)  # every row says what is wrong, in Russian
    assert "Допустимые значения: telegram, phone, email, web, import" in rows[0]
    assert await _count(desk, Claim) == 0  # nothing written
    await assert_accessible(page)
    await screenshot(page, "import-rejected")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "\n" + good_row + "\n", encoding="utf-8")
    await page.get_by_label(ru("web.admin.import.file"), exact=True).set_input_files(str(good))
    await page.get_by_role("button", name=ru("web.admin.import.submit")).click()
    await page.get_by_role("status").filter(has_text=ru("web.admin.import.done", claims="1")).wait_for()
    assert "imported=1,1,1,0,1" in page.url  # after a redirect: reloading imports nothing again
    await page.reload()
    assert await _count(desk, Claim) == 1
    # The English page says the same in English.
    await page.get_by_role("button", name="EN").click()
    await page.get_by_role("status").filter(has_text=en("web.admin.import.done", claims="1")).wait_for()
