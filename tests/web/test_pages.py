"""The queue, the card and the customer page with data made through the services: filters in the
URL, names instead of ids, overdue marks; two staff editing one claim; hostile text shown as text
everywhere; messages outside any claim filed from the customer page; the header's search;
accessibility of each page; screenshots of the queue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.actors import Actor
from shared.claims.models import Claim
from shared.claims.service import update_claim
from shared.clock import utcnow
from shared.enums import AttachmentKind, Direction, InteractionChannel, Priority
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.interactions.service import AttachmentIn, log_interaction
from tests.factories import make_catalogs, make_claim, make_customer
from tests.web.conftest import Desk, assert_accessible, screenshot

ru = get_translator("ru")
HOSTILE_NAME = "<img src=x onerror=alert(1)>"
HOSTILE_TEXT = "<script>alert(1)</script>"
RECEIPT = AttachmentIn(kind=AttachmentKind.DOCUMENT, file_name="receipt.pdf", storage_path="uploads/receipt.pdf")


async def fill_queue(desk: Desk) -> list[Claim]:
    names = ["Анна Петрова", "Иван Соколов", "Елена Васильева", "Дмитрий Морозов", "Ольга Новикова", "Павел Волков"]
    texts = [
        "Курьер опоздал на три дня, заказ пришёл помятым",
        "Списали деньги дважды за один заказ",
        "В посылке не хватает зарядного устройства",
        "Грубый оператор на горячей линии",
        "Товар не соответствует описанию на сайте",
        "Не пришёл возврат за отменённый заказ",
    ]
    claims = []
    async with desk.sessions() as session:
        _, employee, reason = await make_catalogs(session)
        actor = Actor.staff(desk.user_ids["manager"])
        now = utcnow()
        for i in range(12):
            customer = await make_customer(session, name=names[i % len(names)])
            claim = await make_claim(
                session, customer=customer, description=texts[i % len(texts)], registered_at=now - timedelta(days=i)
            )
            changes: dict = {"reason_id": reason.id}
            if i % 3 == 0:
                changes |= {"responsible_id": desk.user_ids["operator"], "culprit_employee_id": employee.id}
            if i % 4 == 1:
                changes |= {"priority": Priority.HIGH.value}
            await update_claim(session, claim_id=claim.id, actor=actor, changes=changes)
            claims.append(claim)
        await session.commit()
    return claims


async def test_queue_filters_names_and_overdue(desk: Desk, signed_in) -> None:
    claims = await fill_queue(desk)
    page = await signed_in("operator")
    await page.goto(desk.url + "/")
    rows = page.locator("table.claims tbody tr")
    assert await rows.count() == 12
    # Names, not ids: the customer, the reason, the responsible.
    first = rows.first
    assert "Анна Петрова" in await first.inner_text()
    assert "Ольга Смирнова" in await page.inner_text("table.claims")
    # Claims older than the SLA (120 h) are overdue and marked so, in words.
    assert await page.locator("tr.overdue").count() == 12 - 5
    assert await page.locator("tr.overdue .badge.overdue").count() == 7
    # Quick view "mine": the URL holds the state, so a reload (or a shared link) shows the same.
    await page.get_by_role("link", name=ru("web.queue.view.mine")).click()
    await page.wait_for_url("**/?view=mine")
    assert await rows.count() == 4
    await page.reload()
    assert await rows.count() == 4
    # A filter from the form goes into the URL too (htmx pushes it); counts by status follow the filters.
    await page.goto(desk.url + "/")
    await page.get_by_label(ru("web.queue.search")).fill("зарядного")
    await page.get_by_role("button", name=ru("web.queue.apply")).click()
    await page.wait_for_url("**/?q=*")
    assert await rows.count() == 2
    assert ru("web.queue.total", total="2") in await page.inner_text("#queue-results")
    # Sorting by number ascending.
    await page.goto(desk.url + "/?sort=number")
    assert (await rows.first.locator("td").first.inner_text()) == claims[0].number
    await page.goto(desk.url + "/")
    await screenshot(page, "queue")
    await assert_accessible(page)


async def test_two_staff_edit_the_same_claim(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        claim = await make_claim(session, customer=await make_customer(session, name="Анна Петрова"))
        await session.commit()
    operator = await signed_in("operator")
    manager = await signed_in("manager")
    for page in (operator, manager):
        await page.goto(f"{desk.url}/claims/{claim.id}")
    # The manager changes the priority; the operator, on the page read before, changes it too.
    await manager.get_by_label(ru("web.field.priority")).select_option("urgent")
    await manager.get_by_role("button", name=ru("web.card.save")).click()
    await manager.get_by_role("status").filter(has_text=ru("web.card.saved")).wait_for()
    await operator.get_by_label(ru("web.field.priority")).select_option("low")
    await operator.get_by_role("button", name=ru("web.card.save")).click()
    alert = operator.get_by_role("alert")
    await alert.filter(has_text=ru("web.error.stale")).wait_for()
    assert ru("web.card.now", field=ru("web.field.priority"), value=ru("priority.urgent")) in await alert.inner_text()
    # The form now holds the current values; nothing was overwritten.
    assert await operator.get_by_label(ru("web.field.priority")).input_value() == "urgent"
    async with desk.sessions() as session:
        assert (await session.get_one(Claim, claim.id)).priority == "urgent"
    # A reply by the manager does not make the operator's next status change stale.
    await manager.get_by_label(ru("web.card.reply_text", name="Анна Петрова")).fill("Разбираемся")
    await manager.get_by_role("button", name=ru("web.card.send")).click()
    await manager.get_by_role("status").filter(has_text=ru("web.card.reply_queued")).wait_for()
    await operator.get_by_role("button", name=ru("web.transition.new.in_progress")).click()
    await operator.get_by_role("status").filter(has_text=ru("web.card.status_changed")).wait_for()


async def test_hostile_text_is_shown_as_text_everywhere(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        customer = await make_customer(session, name=HOSTILE_NAME)
        customer.username = "hostile_user"
        claim = await make_claim(session, customer=customer, description=HOSTILE_TEXT)
        await log_interaction(
            session,
            actor=Actor.customer(customer.id),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text=HOSTILE_TEXT,
            claim_id=claim.id,
        )
        await log_interaction(
            session,
            actor=Actor.customer(customer.id),
            direction=Direction.INBOUND,
            channel=InteractionChannel.TELEGRAM,
            text=HOSTILE_TEXT + " вне претензии",
            customer_id=customer.id,
        )
        await session.commit()
    page = await signed_in("operator")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    for path in ("/", f"/claims/{claim.id}", f"/customers/{customer.id}", "/search?q=hostile"):
        await page.goto(desk.url + path)
        main = await page.inner_text("main")
        assert HOSTILE_NAME in main, path
        if path != "/search?q=hostile":
            assert HOSTILE_TEXT in main, path
        assert await page.locator("img[src='x']").count() == 0, path
        assert await page.locator("main script").count() == 0, path
    assert dialogs == []


async def test_customer_page_files_loose_messages_and_search(desk: Desk, signed_in, tmp_path: Path) -> None:
    files = desk.settings.data_dir / "files"
    (files / "uploads").mkdir(parents=True, exist_ok=True)
    (files / "uploads" / "receipt.pdf").write_bytes(b"%PDF-1.4 receipt")
    async with desk.sessions() as session:
        customer = await make_customer(session, name="Иван Соколов")
        customer.username = "ivan_s"
        open_claim = await make_claim(session, customer=customer, description="Курьер опоздал")
        actor = Actor.customer(customer.id)
        loose = []
        for text in ("Ещё прислали не тот цвет", "И чек к первой претензии"):
            message, _ = await log_interaction(
                session,
                actor=actor,
                direction=Direction.INBOUND,
                channel=InteractionChannel.TELEGRAM,
                text=text,
                customer_id=customer.id,
                attachments=[
                    AttachmentIn(
                        kind=AttachmentKind.DOCUMENT, file_name="receipt.pdf", storage_path="uploads/receipt.pdf"
                    )
                ],
            )
            loose.append(message)
        await session.commit()
    page = await signed_in("operator")
    # The header's search finds the customer by name, phone and username, and the claim by number.
    for q in ("Соколов", customer.phone[-7:], "@ivan_s"):
        await page.goto(desk.url + "/")
        await page.get_by_label(ru("web.search.label")).fill(q)
        await page.get_by_label(ru("web.search.label")).press("Enter")
        await page.get_by_role("link", name="Иван Соколов").wait_for()
    await page.get_by_label(ru("web.search.label")).first.fill(open_claim.number.split("-")[1].lstrip("0"))
    await page.get_by_label(ru("web.search.label")).first.press("Enter")
    await page.wait_for_url(f"**/claims/{open_claim.id}")

    await page.goto(f"{desk.url}/customers/{customer.id}")
    await assert_accessible(page)
    await screenshot(page, "customer")
    messages = page.locator("#messages li")
    assert await messages.count() == 2  # both outside any claim (the claim was registered by staff)
    # Register a claim from the first loose message: the message and its file go with it.
    first = messages.filter(has_text="не тот цвет")
    await first.get_by_role("button", name=ru("web.customer.register")).click()
    await page.wait_for_url("**/claims/*")
    await page.locator("#timeline").get_by_text("Ещё прислали не тот цвет", exact=True).wait_for()
    await page.locator("#timeline").get_by_role("link", name="receipt.pdf").wait_for()
    # Attach the other one to the open claim.
    await page.goto(f"{desk.url}/customers/{customer.id}")
    second = page.locator("#messages li").filter(has_text="И чек")
    await second.get_by_label(ru("web.customer.attach_to")).select_option(str(open_claim.id))
    await second.get_by_role("button", name=ru("web.customer.attach")).click()
    await page.wait_for_url(f"**/claims/{open_claim.id}")
    await page.locator("#timeline").get_by_text("И чек к первой претензии", exact=True).wait_for()
    async with desk.sessions() as session:
        moved = (await session.scalars(select(Interaction).where(Interaction.id.in_([m.id for m in loose])))).all()
        assert all(m.claim_id is not None for m in moved)
        assert len({m.claim_id for m in moved}) == 2 and open_claim.id in {m.claim_id for m in moved}


@pytest.mark.parametrize("role", ["operator"])
async def test_signed_out_htmx_and_pages_go_to_sign_in(desk: Desk, anonymous, role: str) -> None:
    await anonymous.goto(desk.url + "/claims/1")
    assert "/signin?next=/claims/1" in anonymous.url


async def test_saved_replies_per_language(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        claim = await make_claim(session, customer=await make_customer(session, name="Анна Петрова"))
        await session.commit()
    manager = await signed_in("manager")
    await manager.goto(desk.url + "/replies")
    await manager.get_by_label(ru("web.replies.language")).first.select_option("ru")
    await manager.get_by_label(ru("web.field.title_template")).first.fill("Запросить фото")
    await manager.get_by_label(ru("web.field.body")).first.fill("Пришлите, пожалуйста, фото товара и упаковки.")
    await manager.get_by_role("button", name=ru("web.replies.add")).click()
    await manager.get_by_role("heading", name="Запросить фото").wait_for()
    await assert_accessible(manager)
    operator = await signed_in("operator")
    await operator.goto(f"{desk.url}/claims/{claim.id}")
    await operator.get_by_label(ru("web.card.template")).select_option(label="Запросить фото")
    await operator.get_by_role("button", name=ru("web.card.use_template")).click()
    # The text box is replaced by one holding the saved reply (htmx; a plain GET without JavaScript).
    await operator.wait_for_function("() => document.getElementById('reply-text').value.includes('фото товара')")
    # Saved replies are managed by managers: an operator is refused the page.
    response = await operator.goto(desk.url + "/replies")
    assert response is not None and response.status == 403
    await operator.get_by_role("alert").filter(has_text=ru("web.error.forbidden_page")).wait_for()


async def test_queue_pages_and_sorts_in_place(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        customer = await make_customer(session, name="Елена Васильева")
        now = utcnow()
        claims = [
            await make_claim(session, customer=customer, registered_at=now - timedelta(minutes=i)) for i in range(55)
        ]
        await session.commit()
    page = await signed_in("operator")
    await page.goto(desk.url + "/")
    rows = page.locator("table.claims tbody tr")
    assert await rows.count() == 50
    assert ru("web.queue.total", total="55") in await page.inner_text("#queue-results")
    await page.evaluate("window.__noReload = true")
    # The next page (keyset cursor in the URL), fetched in place by htmx.
    await page.get_by_role("link", name=ru("web.queue.next_page")).click()
    await page.wait_for_url("**/?cursor=*")
    await page.get_by_role("link", name=ru("web.queue.first_page")).wait_for()
    assert await rows.count() == 5
    assert await rows.last.locator("td").first.inner_text() == claims[-1].number
    # A column header sorts (ascending by number first), in place too.
    await page.get_by_role("link", name=ru("web.claim.number")).click()
    await page.wait_for_url("**/?sort=number")
    await page.locator("th[aria-sort='ascending']").wait_for()
    assert await rows.first.locator("td").first.inner_text() == min(c.number for c in claims)
    assert await page.evaluate("window.__noReload === true")
