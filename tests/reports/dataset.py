"""The hand-built data set the report tests check against (answers worked out by hand in the tests).

Times are UTC; Moscow (TIMEZONE) is UTC+3 all year. Claims, by local registration month:

| claim | registered (UTC)  | Moscow month | department | reason    | employee | now         |
|-------|-------------------|--------------|------------|-----------|----------|-------------|
| c1    | 01-10 09:00       | January      | Доставка   | Опоздание | Петров   | closed, sat, rated 5 |
| c2    | 01-20 12:00       | January      | Доставка   | Брак      | -        | resolved, rejected   |
| c3    | 01-31 20:59       | January (23:59) | Склад   | -         | -        | new                  |
| c4    | 01-31 22:30       | February (01:30) | -      | Опоздание | -        | rejected, reopened by customer |
| c5    | 02-15 10:00       | February     | Доставка   | Опоздание | Петров   | closed, partial, rated 3 (*) |
| c6    | 03-05 10:00       | March        | Колл-центр | Брак      | -        | closed, sat, rated 4 |
| c7    | 03-31 21:30       | April (00:30) | -         | -         | -        | new (outside Jan-Mar) |
| c8    | 02-28 21:00       | March (00:00) | Склад     | Брак      | Иванова  | resolved, sat 03-31 23:00 local |
| c9    | 03-10 10:00       | March        | Доставка   | -         | -        | resolved, rejected   |

(*) reopened by staff once before the final decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import create_entry
from shared.claims.models import Claim
from shared.claims.service import NewClaim, assign, record_satisfaction, register_claim, transition
from shared.enums import Channel, Role
from shared.interactions.models import Interaction
from shared.interactions.service import response_delivered
from tests.factories import make_customer, make_staff


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Dataset:
    claims: dict[str, Claim]
    staff_id: int
    staff_login: str


async def build_dataset(session: AsyncSession) -> Dataset:
    staff = await make_staff(session, role=Role.MANAGER, login="anna")
    staff.full_name = "Анна Смирнова"
    actor = Actor.staff(staff.id)
    delivery = await create_entry(session, Department, name="Доставка")
    warehouse = await create_entry(session, Department, name="Склад")
    callcentre = await create_entry(session, Department, name="Колл-центр")
    late = await create_entry(session, Reason, name="Опоздание")
    defect = await create_entry(session, Reason, name="Брак")
    petrov = await create_entry(session, Employee, name="Петров", department_id=delivery.id)
    ivanova = await create_entry(session, Employee, name="Иванова", department_id=warehouse.id)
    customer = await make_customer(session, name="Ольга Ким")

    claims: dict[str, Claim] = {}

    async def claim(name, registered, dept=None, reason=None, employee=None, channel=Channel.TELEGRAM):
        c = await register_claim(
            session,
            claim_in=NewClaim(
                customer_id=customer.id,
                description=f'Претензия {name}\nвторая строка, "кавычки"; точка с запятой',
                registered_at=registered,
                channel=channel,
                amount_claimed="1500.50" if name in ("c1", "c2") else None,
            ),
            actor=Actor.customer(customer.id),
        )
        assignment = {
            "culprit_department_id": dept.id if dept else None,
            "reason_id": reason.id if reason else None,
            "culprit_employee_id": employee.id if employee else None,
            "responsible_id": staff.id,
        }
        await assign(session, claim_id=c.id, actor=actor, **assignment)
        claims[name] = c
        return c

    async def step(c, to, when, result=None, who=actor):
        await transition(
            session,
            claim_id=c.id,
            to=to,
            actor=who,
            at=when,
            result=result,
            resolution="Решение" if result else None,
        )
        await delivered(c, when)

    async def delivered(c, when):
        """The delivery worker got the news of the step to the customer at once: the first
        response is the first thing staff said that reached the customer."""
        queued = (
            await session.scalars(
                select(Interaction.id).where(Interaction.claim_id == c.id, Interaction.delivery_state == "queued")
            )
        ).all()
        for interaction_id in queued:
            await response_delivered(session, interaction_id=interaction_id, at=when)
        await session.execute(
            update(Interaction).where(Interaction.id.in_(queued)).values(delivery_state="sent", delivered_at=when)
        )

    c1 = await claim("c1", at(1, 10, 9), delivery, late, petrov)
    await step(c1, "in_progress", at(1, 10, 11))
    await step(c1, "resolved", at(1, 12, 9), "satisfied")
    await step(c1, "closed", at(1, 13, 9))
    await record_satisfaction(session, claim_id=c1.id, actor=Actor.customer(customer.id), score=5)

    c2 = await claim("c2", at(1, 20, 12), delivery, defect, channel=Channel.PHONE)
    await step(c2, "in_progress", at(1, 21, 12))
    await step(c2, "resolved", at(2, 5, 12), "rejected")

    await claim("c3", at(1, 31, 20, 59), warehouse)

    c4 = await claim("c4", at(1, 31, 22, 30), None, late)
    await step(c4, "in_progress", at(2, 1, 0, 30))
    await step(c4, "resolved", at(2, 2, 0, 30), "rejected")
    await step(c4, "in_progress", at(2, 3, 0, 30), who=Actor.customer(customer.id))

    c5 = await claim("c5", at(2, 15, 10), delivery, late, petrov)
    await step(c5, "in_progress", at(2, 15, 12))
    await step(c5, "resolved", at(2, 15, 20), "satisfied")
    await step(c5, "in_progress", at(2, 16, 8))
    await step(c5, "resolved", at(2, 16, 10), "partially_satisfied")
    await step(c5, "closed", at(2, 17, 10))
    await record_satisfaction(session, claim_id=c5.id, actor=Actor.customer(customer.id), score=3)

    c6 = await claim("c6", at(3, 5, 10), callcentre, defect)
    await step(c6, "in_progress", at(3, 5, 10, 30))
    await step(c6, "resolved", at(3, 6, 10), "satisfied")
    await step(c6, "closed", at(3, 7, 10))
    await record_satisfaction(session, claim_id=c6.id, actor=Actor.customer(customer.id), score=4)

    await claim("c7", at(3, 31, 21, 30))

    c8 = await claim("c8", at(2, 28, 21), warehouse, defect, ivanova)
    await step(c8, "in_progress", at(3, 1, 9))
    await step(c8, "resolved", at(3, 31, 20), "satisfied")

    c9 = await claim("c9", at(3, 10, 10), delivery)
    await step(c9, "in_progress", at(3, 10, 11))
    await step(c9, "resolved", at(3, 11, 10), "rejected")

    await session.flush()
    return Dataset(claims=claims, staff_id=staff.id, staff_login=staff.login)
