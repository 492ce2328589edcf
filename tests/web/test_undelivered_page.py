"""The undelivered messages page in the browser, over the Bot API emulator and the real delivery
worker: a reply to a customer who blocked the bot is listed with the reason in words and no resend
until the customer writes again; then resending delivers it. A message Telegram refused as such is
never offered again. The customer's name is shown as text."""

from __future__ import annotations

from sqlalchemy import select

from shared.actors import Actor
from shared.audit.models import ClaimEvent
from shared.customers.models import Customer
from shared.enums import Direction, InteractionChannel
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.interactions.service import log_interaction
from tests.delivery.conftest import flood_emu, running_worker, staff_reply, wait_until  # noqa: F401  (fixture)
from tests.factories import make_claim, make_customer
from tests.web.conftest import Desk, assert_accessible, screenshot

ru = get_translator("ru")
EVIL = "<img src=x onerror=alert(1)>"


async def _state(desk: Desk, interaction_id: int) -> str | None:
    async with desk.sessions() as session:
        return (await session.get_one(Interaction, interaction_id)).delivery_state


async def _failed(desk: Desk, interaction_id: int) -> None:
    async def done() -> bool:
        return await _state(desk, interaction_id) == "failed"

    await wait_until(done)


async def test_undelivered_messages_and_resend_where_it_can_work(
    desk: Desk,
    signed_in,
    flood_emu,  # noqa: F811  (the emulator fixture of tests/delivery)
    database_url: str,
) -> None:
    dialogs: list[str] = []
    async with desk.sessions() as session:
        blocked = await make_customer(session, name=EVIL)
        blocked.username = "blocker"
        other = await make_customer(session, name="Борис Отказов")
        claim = await make_claim(session, customer=blocked)
        refused_claim = await make_claim(session, customer=other)
        await session.commit()
        blocked_chat, other_chat = blocked.telegram_chat_id, other.telegram_chat_id
    operator = Actor.staff(desk.user_ids["operator"])
    user = flood_emu.user(blocked_chat, "Blocker")
    flood_emu.user(other_chat, "Boris")
    user.block()
    flood_emu.faults.inject(
        method="sendMessage", chat_id=other_chat, kind=400, description="Bad Request: message is too long"
    )
    async with running_worker(desk.sessions, flood_emu, database_url):
        first = await staff_reply(desk.sessions, claim, operator, "Вернём 3 490 ₽ до пятницы")
        second = await staff_reply(desk.sessions, refused_claim, operator, "Очень длинный ответ")
        await _failed(desk, first)
        await _failed(desk, second)

        page = await signed_in("operator")
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        await page.goto(desk.url + "/undelivered")
        await page.get_by_role("heading", name=ru("web.undelivered.title")).wait_for()
        row = page.get_by_role("row").filter(has_text="Вернём 3 490 ₽ до пятницы")
        text = await row.inner_text()
        assert EVIL in text and "@blocker" in text and claim.number in text
        assert ru("web.undelivered.reason.blocked") in text and ru("web.undelivered.no_resend.blocked") in text
        assert await row.get_by_role("button").count() == 0
        refused = page.get_by_role("row").filter(has_text="Очень длинный ответ")
        assert ru("web.undelivered.reason.refused") in await refused.inner_text()
        assert "message is too long" in await refused.inner_text()
        assert await refused.get_by_role("button").count() == 0
        await assert_accessible(page)
        await screenshot(page, "undelivered")

        # The customer unblocks the bot and writes (stored as the bot stores it): resend is offered.
        user.unblock()
        async with desk.sessions() as session:
            await log_interaction(
                session,
                actor=Actor.customer(claim.customer_id),
                direction=Direction.INBOUND,
                channel=InteractionChannel.TELEGRAM,
                text="Разблокировал, пишите",
                customer_id=claim.customer_id,
            )
            await session.commit()
        await page.reload()
        row = page.get_by_role("row").filter(has_text="Вернём 3 490 ₽ до пятницы")
        assert ru("web.undelivered.wrote_since") in await row.inner_text()
        await row.get_by_role("button", name=ru("web.undelivered.resend")).click()
        await page.get_by_role("status").filter(has_text=ru("web.undelivered.resent")).wait_for()
        assert await page.get_by_role("row").filter(has_text="Вернём 3 490 ₽ до пятницы").count() == 0

        async def delivered() -> bool:
            return await _state(desk, first) == "sent"

        await wait_until(delivered)
    # Resent once, under its claim's number like every staff answer.
    assert [m.text.splitlines()[-1] for m in user.messages if "3 490" in (m.text or "")] == [
        "Вернём 3 490 ₽ до пятницы"
    ]
    async with desk.sessions() as session:
        event = await session.scalar(select(ClaimEvent).where(ClaimEvent.kind == "message_resent"))
        assert event is not None and event.claim_id == claim.id and event.actor_staff_id == desk.user_ids["operator"]
        assert (await session.get_one(Customer, claim.customer_id)).name == EVIL
    assert dialogs == []


async def test_an_empty_list_says_so(desk: Desk, signed_in) -> None:
    page = await signed_in("operator")
    await page.goto(desk.url + "/undelivered")
    await page.get_by_text(ru("web.undelivered.empty")).wait_for()
    response = await page.goto(desk.url + "/undelivered/999/resend")
    assert response is not None and response.status == 405
