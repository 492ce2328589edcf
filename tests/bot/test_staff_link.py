"""A staff member links their Telegram account with the one-time code of their profile page, sent
to the bot in a private chat (`/link CODE`, or the deep link's `/start link-CODE`): right, wrong,
expired and reused codes, each answered clearly; the message is never a customer's (no customer,
no interaction, no claim, even in the middle of the claim wizard); guessing is throttled; a
deactivated staff user has no Telegram power."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox import BotApiEmulator
from shared.actors import Actor
from shared.audit.models import DeskEvent
from shared.claims.models import Claim
from shared.claims.service import assign
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.i18n import get_translator
from shared.interactions.models import Interaction
from shared.notifications.texts import html_to_plain
from shared.staff.accounts import update_user
from shared.staff.linking import CODE_TTL, issue_link_code
from shared.staff.models import StaffLinkCode, StaffUser
from shared.staff.telegram import staff_for_telegram_user
from tests.bot.conftest import running_bot
from tests.delivery.conftest import running_worker
from tests.factories import make_claim, make_customer, make_staff


async def staff_with_code(db: async_sessionmaker[AsyncSession], *, language: str = "en") -> tuple[int, str]:
    async with db.begin() as session:
        staff = await make_staff(session)
        staff.language = language
        staff.full_name = "Ольга <Смирнова>"
        code = await issue_link_code(session, user=staff)
        return staff.id, code.code


async def linked_to(db: async_sessionmaker[AsyncSession], telegram_user_id: int) -> int | None:
    async with db() as session:
        staff = await staff_for_telegram_user(session, telegram_user_id=telegram_user_id)
        return staff.id if staff is not None else None


async def counts(db: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with db() as session:
        return (
            int(await session.scalar(select(func.count()).select_from(Customer)) or 0),
            int(await session.scalar(select(func.count()).select_from(Interaction)) or 0),
            int(await session.scalar(select(func.count()).select_from(Claim)) or 0),
        )


def said(t_key: str, language: str, **params: str) -> str:
    return html_to_plain(get_translator(language)(t_key, **params))


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_the_right_code_links_and_is_answered_in_the_staff_members_language(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], language: str
) -> None:
    staff_id, code = await staff_with_code(db, language=language)
    # The person's Telegram speaks the other language: the answer follows the desk account.
    person = emu.user(7101, first_name="Olga", language_code="en" if language == "ru" else "ru")
    async with running_bot(emu, db):
        # Typed as people type codes: lower case, with a space in the middle.
        await person.send_text(f"/link {code[:4].lower()} {code[4:]}")
        (answer,) = await person.wait_for_messages()
    assert answer.text == said("staff.link.linked", language, name="Ольга &lt;Смирнова&gt;")
    assert await linked_to(db, 7101) == staff_id
    # Not a customer's message: no customer was made of the sender, nothing stored, no claim.
    assert await counts(db) == (0, 0, 0)
    async with db() as session:
        (event,) = (await session.scalars(select(DeskEvent).where(DeskEvent.kind == "telegram_linked"))).all()
    assert event.actor_staff_id == staff_id
    assert event.details is not None and event.details["telegram_user_id"] == 7101


async def test_a_wrong_code_is_refused_clearly_in_the_senders_language(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    await staff_with_code(db)
    person = emu.user(7102, first_name="Ivan", language_code="ru")
    async with running_bot(emu, db):
        await person.send_text("/link ABCD2345")
        await person.send_text("/link")
        wrong, usage = await person.wait_for_messages(2)
    assert wrong.text == said("staff.link.unknown", "ru")
    assert usage.text == said("staff.link.usage", "ru")
    assert await linked_to(db, 7102) is None
    assert await counts(db) == (0, 0, 0)


async def test_an_expired_code_is_refused(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    staff_id, code = await staff_with_code(db, language="ru")
    async with db.begin() as session:
        await session.execute(
            update(StaffLinkCode)
            .where(StaffLinkCode.user_id == staff_id)
            .values(expires_at=utcnow() - timedelta(seconds=1), created_at=utcnow() - CODE_TTL)
        )
    person = emu.user(7103, first_name="Olga", language_code="en")
    async with running_bot(emu, db):
        await person.send_text(f"/link {code}")
        (answer,) = await person.wait_for_messages()
    assert answer.text == said("staff.link.expired", "ru")
    assert await linked_to(db, 7103) is None


async def test_a_code_works_once(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    staff_id, code = await staff_with_code(db)
    first = emu.user(7104, first_name="Olga", language_code="en")
    second = emu.user(7105, first_name="Mallory", language_code="en")
    async with running_bot(emu, db):
        await first.send_text(f"/link {code}")
        await first.wait_for_messages()
        await second.send_text(f"/link {code}")
        (answer,) = await second.wait_for_messages()
    assert answer.text == said("staff.link.used", "en")
    assert await linked_to(db, 7104) == staff_id
    assert await linked_to(db, 7105) is None


async def test_a_new_code_cancels_the_earlier_one(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    staff_id, old = await staff_with_code(db)
    async with db.begin() as session:
        new = await issue_link_code(session, user=await session.get_one(StaffUser, staff_id))
    person = emu.user(7106, first_name="Olga", language_code="en")
    async with running_bot(emu, db):
        await person.send_text(f"/link {old}")
        (refused,) = await person.wait_for_messages()
        await person.send_text(f"/link {new.code}")
        (linked,) = await person.wait_for_messages()
    assert refused.text == said("staff.link.unknown", "en")
    assert linked.text.startswith("Done")
    assert await linked_to(db, 7106) == staff_id


async def test_the_deep_link_links_and_the_claim_wizard_does_not_take_the_code(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    """A customer in the middle of filing a claim who is also staff: `/link CODE` (here through the
    deep link's /start) links them; it is not an answer to the wizard, and stores nothing."""
    staff_id, code = await staff_with_code(db)
    person = emu.user(7107, first_name="Olga", language_code="en")
    async with running_bot(emu, db):
        await person.send_text("/new")
        await person.wait_for_messages()
        before = await counts(db)
        await person.send_text(f"/start link-{code}")
        (answer,) = await person.wait_for_messages()
    assert answer.text.startswith("Done")
    assert await linked_to(db, 7107) == staff_id
    assert await counts(db) == before
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Interaction)) == 0


async def test_a_customer_sending_a_code_is_not_stored_as_their_message(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    """An existing customer with an open claim: their `/link` message goes to no claim."""
    async with db.begin() as session:
        customer = await make_customer(session)
        await make_claim(session, customer=customer)
        chat = customer.telegram_chat_id
        assert chat is not None
    staff_id, code = await staff_with_code(db)
    person = emu.user(chat, first_name="Anna", language_code="ru")
    async with db() as session:
        stored = await session.scalar(select(func.count()).select_from(Interaction))
    async with running_bot(emu, db):
        await person.send_text(f"/link {code}")
        (answer,) = await person.wait_for_messages()
    assert answer.text.startswith("Done")
    assert await linked_to(db, chat) == staff_id
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Interaction)) == stored


async def test_guessing_codes_is_throttled(emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]) -> None:
    _, code = await staff_with_code(db)
    guesser = emu.user(7108, first_name="Mallory", language_code="en")
    async with running_bot(emu, db):
        for guess in ("AAAA2222", "AAAA2223", "AAAA2224", "AAAA2225", "AAAA2226"):
            await guesser.send_text(f"/link {guess}")
        await guesser.wait_for_messages(5)
        # The sixth try within ten minutes is refused before the code is looked at, the right one too.
        await guesser.send_text(f"/link {code}")
        (answer,) = await guesser.wait_for_messages()
    assert answer.text == said("staff.link.throttled", "en", minutes="10")
    assert await linked_to(db, 7108) is None


async def test_a_deactivated_staff_user_loses_telegram_at_once_and_cannot_link(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession]
) -> None:
    staff_id, code = await staff_with_code(db)
    person = emu.user(7109, first_name="Olga", language_code="en")
    async with running_bot(emu, db):
        await person.send_text(f"/link {code}")
        await person.wait_for_messages()
        assert await linked_to(db, 7109) == staff_id
        async with db.begin() as session:
            await update_user(session, user_id=staff_id, changes={"active": False})
            fresh = await issue_link_code(session, user=await session.get_one(StaffUser, staff_id))
        assert await linked_to(db, 7109) is None  # every Telegram check goes through this look-up
        await person.send_text(f"/link {fresh.code}")
        (answer,) = await person.wait_for_messages()
    assert answer.text == said("staff.link.inactive", "en")


async def test_a_linked_staff_member_gets_the_alert_of_their_customer_in_their_private_chat(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """End to end: the staff member links through the bot; a claim is assigned to them (one
    alert); its customer writes twice (one alert); the delivery worker brings both to the staff
    member's private chat with the bot, and nothing of it to the customer."""
    staff_id, code = await staff_with_code(db, language="en")
    olga = emu.user(7110, first_name="Olga", language_code="en")
    async with db.begin() as session:
        customer = await make_customer(session, name="Anna")
        claim = await make_claim(session, customer=customer)
        manager = await make_staff(session)
        chat = customer.telegram_chat_id
        assert chat is not None
    anna = emu.user(chat, first_name="Anna", language_code="ru")
    async with running_bot(emu, db), running_worker(db, emu, database_url):
        await olga.send_text(f"/link {code}")
        await olga.wait_for_messages()
        async with db.begin() as session:
            await assign(session, claim_id=claim.id, actor=Actor.staff(manager.id), responsible_id=staff_id)
        (assigned,) = await olga.wait_for_messages()
        await anna.send_text("Where is my refund?")
        await anna.send_text("Hello?")
        await anna.wait_for_messages()
        (wrote,) = await olga.wait_for_messages()
        await olga.sleep_until_quiet(0.5)
    assert assigned.text is not None and assigned.text.startswith(f"📌 Claim {claim.number} is assigned to you")
    assert wrote.text is not None
    assert wrote.text.startswith(f"✉️ Anna wrote on claim {claim.number}:\nWhere is my refund?")
    assert f"/claims/{claim.id}" in wrote.text
    assert len(emu.sent(7110)) == 3  # linked, assigned, wrote: the second message made no alert
    assert not any((m.text or "").startswith(("📌", "✉️")) for m in emu.sent(chat))
