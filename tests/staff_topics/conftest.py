"""The staff group end to end: the Bot API emulator with a forum supergroup as STAFF_CHAT_ID, the
claimdesk bot (long polling) and the delivery worker, against the test PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.worker import DeliveryWorker
from bot.sandbox import BotApiEmulator, UserDriver
from bot.sandbox.groups import GroupDriver
from shared.claims.intake import IntakeDraft, submit_intake
from shared.claims.models import Claim
from shared.customers.models import Customer
from shared.enums import Role
from shared.interactions.service import TelegramRef
from shared.settings import get_settings
from shared.staff.models import StaffUser
from tests.bot.conftest import running_bot
from tests.delivery.conftest import running_worker
from tests.factories import make_staff

STAFF_CHAT = -1009876543210
TOKEN = "123456:TOPICS-test"


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN, fault_hold=1.5, sandbox_ui=False)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
def staff_chat(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("STAFF_CHAT_ID", str(STAFF_CHAT))
    get_settings.cache_clear()
    yield STAFF_CHAT
    monkeypatch.delenv("STAFF_CHAT_ID")
    get_settings.cache_clear()


@dataclass
class Desk:
    emu: BotApiEmulator
    db: async_sessionmaker[AsyncSession]
    group: GroupDriver
    worker: DeliveryWorker


@contextlib.asynccontextmanager
async def running_desk(
    emu: BotApiEmulator, db: async_sessionmaker[AsyncSession], database_url: str, group: GroupDriver
) -> AsyncIterator[Desk]:
    async with running_bot(emu, db), running_worker(db, emu, database_url, group_interval=0.05) as worker:
        yield Desk(emu, db, group, worker)


async def linked_staff(
    db: async_sessionmaker[AsyncSession], telegram_user_id: int, *, name: str, role: Role = Role.OPERATOR
) -> StaffUser:
    async with db.begin() as session:
        staff = await make_staff(session, role=role)
        staff.full_name = name
        staff.telegram_user_id = telegram_user_id
    return staff


async def filed_claim(
    db: async_sessionmaker[AsyncSession], emu: BotApiEmulator, user_id: int, *, name: str = "Anna"
) -> tuple[UserDriver, Claim]:
    """A customer files a claim in the bot (the intake's service, with the message that carried
    the description, as the wizard's last step calls it)."""
    user = emu.user(user_id, first_name=name, language_code="en")
    sent = await user.send_text("The kettle arrived broken")
    emu.world.updates.clear()  # the wizard is not what is tested here: its service is called below
    async with db.begin() as session:
        customer = Customer(name=name, telegram_user_id=user_id, telegram_chat_id=user_id, language="en")
        session.add(customer)
        await session.flush()
        claim = await submit_intake(
            session,
            customer_id=customer.id,
            draft=IntakeDraft(
                description="The kettle arrived broken",
                order_ref="ORD-77",
                telegram=TelegramRef(chat_id=user_id, message_id=sent["message_id"]),
            ),
        )
    return user, claim
