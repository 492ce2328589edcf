"""The new-claim form in the browser: a claim taken by phone for a new customer and for one found
by the search, registered by shared.claims.desk.register_received_claim; the browser then goes to
the claim's card URL. Refusals come back in words with the form as typed."""

from __future__ import annotations

import re

import aiohttp
from sqlalchemy import func, select

from shared.audit.models import ClaimEvent
from shared.catalogs.models import Reason
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.i18n import get_translator
from tests.factories import make_customer
from tests.web.conftest import Desk, assert_accessible, screenshot

ru = get_translator("ru")
EVIL = "<img src=x onerror=alert(1)>"


async def _claims(desk: Desk) -> list[Claim]:
    async with desk.sessions() as session:
        return list((await session.scalars(select(Claim).order_by(Claim.id))).all())


async def test_a_claim_for_a_new_customer(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        session.add(Reason(name="Брак"))
        await session.commit()
    page = await signed_in("operator")
    await page.goto(desk.url + "/")
    await page.get_by_role("link", name=ru("web.newclaim.nav")).click()
    await page.wait_for_url("**/claims/new")
    new = page.get_by_role("radio", name=ru("web.newclaim.new_customer"))
    assert await new.is_checked()  # nothing searched: a new customer
    await page.get_by_label(ru("web.newclaim.customer_name"), exact=True).fill("Галина Звонкова")
    await page.get_by_label(ru("web.newclaim.customer_phone"), exact=True).fill("8 (912) 345-67-89")
    await page.get_by_label(ru("web.newclaim.channel"), exact=True).select_option("phone")
    await page.get_by_label(ru("web.newclaim.description"), exact=True).fill("Чайник протекает\nКупила неделю назад")
    await page.get_by_label(ru("web.newclaim.remedy"), exact=True).select_option("replacement")
    await page.get_by_label(ru("web.newclaim.amount_claimed", currency="RUB"), exact=True).fill("3 490,50")
    await page.get_by_label(ru("web.newclaim.reason_id"), exact=True).select_option(label="Брак")
    await assert_accessible(page)
    await screenshot(page, "new-claim")
    await page.get_by_role("button", name=ru("web.newclaim.submit")).click()
    await page.wait_for_url(re.compile(r".*/claims/\d+$"))
    (claim,) = await _claims(desk)
    assert page.url.endswith(f"/claims/{claim.id}")
    assert (claim.channel, claim.subject, claim.remedy, str(claim.amount_claimed)) == (
        "phone",
        "Чайник протекает",
        "replacement",
        "3490.50",
    )
    assert claim.reason_id is not None and claim.responsible_id is None
    async with desk.sessions() as session:
        customer = await session.get_one(Customer, claim.customer_id)
        assert (customer.name, customer.phone, customer.telegram_chat_id) == ("Галина Звонкова", "+79123456789", None)
        event = await session.scalar(select(ClaimEvent).where(ClaimEvent.claim_id == claim.id))
        assert event is not None and event.kind == "registered" and event.actor_staff_id == desk.user_ids["operator"]


async def test_a_claim_for_a_customer_found_by_the_search(desk: Desk, signed_in) -> None:
    async with desk.sessions() as session:
        anna = await make_customer(session, name="Анна Петрова")
        anna.username = "anna_p"
        await make_customer(session, name=EVIL)
        await session.commit()
    dialogs: list[str] = []
    page = await signed_in("operator")
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(desk.url + "/claims/new")
    # Typing searches as you go (htmx); the button does the same without JavaScript.
    await page.get_by_label(ru("web.newclaim.find"), exact=True).fill("anna_p")
    found = page.get_by_role("radio", name=re.compile("Анна Петрова"))
    await found.wait_for()
    assert not await page.get_by_role("radio", name=ru("web.newclaim.new_customer")).is_checked()
    # Nothing chosen yet: refused in words, what was typed kept.
    await page.get_by_label(ru("web.newclaim.description"), exact=True).fill("Курьер нагрубил")
    await page.get_by_role("button", name=ru("web.newclaim.submit")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.newclaim.error.customer")).wait_for()
    assert await page.get_by_label(ru("web.newclaim.description"), exact=True).input_value() == "Курьер нагрубил"
    await page.get_by_role("radio", name=re.compile("Анна Петрова")).check()
    await page.get_by_label(ru("web.newclaim.channel"), exact=True).select_option("web")
    # An operator may take the claim (only themselves are offered).
    responsible = page.get_by_label(ru("web.newclaim.responsible_id"), exact=True)
    assert await responsible.locator("option").count() == 2
    await responsible.select_option(str(desk.user_ids["operator"]))
    await page.get_by_role("button", name=ru("web.newclaim.submit")).click()
    await page.wait_for_url(re.compile(r".*/claims/\d+$"))
    (claim,) = await _claims(desk)
    assert (claim.customer_id, claim.channel, claim.responsible_id) == (anna.id, "web", desk.user_ids["operator"])
    # The customer named like markup is listed as text.
    await page.goto(desk.url + "/claims/new?customer_q=" + "img src")
    match = page.get_by_role("radio", name=re.compile("img src=x"))
    await match.wait_for()
    label = page.locator("ul.customer-choice li").filter(has=match)
    assert EVIL in await label.inner_text()
    assert await page.locator("ul.customer-choice img").count() == 0
    assert dialogs == []


async def test_refusals_in_words(desk: Desk, signed_in) -> None:
    page = await signed_in("operator")
    await page.goto(desk.url + "/claims/new")
    await page.get_by_label(ru("web.newclaim.customer_name"), exact=True).fill("Без Контактов")
    await page.get_by_label(ru("web.newclaim.description"), exact=True).fill("Не работает")
    await page.get_by_role("button", name=ru("web.newclaim.submit")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.admin.refused.invalid.customer_phone")).wait_for()
    await page.get_by_label(ru("web.newclaim.customer_phone"), exact=True).fill("12")
    await page.get_by_role("button", name=ru("web.newclaim.submit")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.admin.refused.invalid.phone")).wait_for()
    await page.get_by_label(ru("web.newclaim.customer_phone"), exact=True).fill("+79001234567")
    await page.get_by_label(ru("web.newclaim.amount_claimed", currency="RUB"), exact=True).fill("много")
    await page.get_by_role("button", name=ru("web.newclaim.submit")).click()
    await page.get_by_role("alert").filter(has_text=ru("web.newclaim.field.amount_claimed")).wait_for()
    assert await _claims(desk) == []
    # An operator cannot assign to someone else, even with a forged form.
    token = await page.locator("#claim-form input[name=csrf_token]").get_attribute("value")
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    form = {
        "csrf_token": token,
        "customer_id": "new",
        "customer_name": "Кто-то",
        "customer_phone": "+79001234567",
        "channel": "phone",
        "description": "x",
        "responsible_id": str(desk.user_ids["manager"]),
    }
    async with aiohttp.ClientSession(cookies=cookies) as client:
        async with client.post(desk.url + "/claims/new", data=form, allow_redirects=False) as response:
            assert response.status == 403
            assert ru("web.admin.refused.forbidden.responsible_id") in await response.text()
        async with client.post(desk.url + "/claims/new", data={**form, "csrf_token": ""}) as response:
            assert response.status == 403 and ru("web.error.csrf") in await response.text()
    async with desk.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Claim)) == 0
        assert await session.scalar(select(func.count()).select_from(Customer)) == 0
