"""Building test data through the real services (factories in the sense of Netflix/dispatch)."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import create_entry
from shared.claims.models import Claim
from shared.claims.service import NewClaim, register_claim
from shared.customers.models import Customer
from shared.enums import Channel, Role
from shared.staff.models import StaffUser
from shared.staff.service import create_user

_seq = itertools.count(1)


async def make_customer(session: AsyncSession, *, name: str = "Анна Петрова", telegram: bool = True) -> Customer:
    n = next(_seq)
    customer = Customer(
        name=name,
        telegram_user_id=10_000 + n if telegram else None,
        telegram_chat_id=10_000 + n if telegram else None,
        phone=f"+7900{n:07d}",
        language="ru",
    )
    session.add(customer)
    await session.flush()
    return customer


async def make_staff(session: AsyncSession, *, role: Role = Role.OPERATOR, login: str | None = None) -> StaffUser:
    return await create_user(session, login=login or f"staff{next(_seq)}", password="correct horse battery", role=role)


async def make_claim(
    session: AsyncSession,
    *,
    customer: Customer | None = None,
    description: str = "Курьер опоздал на три дня",
    registered_at: datetime | None = None,
    channel: Channel = Channel.TELEGRAM,
) -> Claim:
    customer = customer or await make_customer(session)
    return await register_claim(
        session,
        claim_in=NewClaim(
            customer_id=customer.id, description=description, registered_at=registered_at, channel=channel
        ),
        actor=Actor.customer(customer.id),
    )


async def make_catalogs(session: AsyncSession) -> tuple[Department, Employee, Reason]:
    n = next(_seq)
    department = await create_entry(session, Department, name=f"Доставка {n}")
    employee = await create_entry(session, Employee, name=f"Курьер {n}", department_id=department.id)
    reason = await create_entry(session, Reason, name=f"Опоздание {n}")
    return department, employee, reason
