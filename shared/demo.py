"""A realistic demo data set in Russian: catalogs, ~500 claims over the last 12 months, with their
conversations, investigation plans and decisions, built through the same services the bot and the
back-office use (so the audit trail is real too). Loading it twice does not double it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.bot_state.models import AppMeta
from shared.catalogs.models import Department, Employee, Reason
from shared.catalogs.service import ensure_by_name
from shared.claims.service import NewClaim, assign, record_satisfaction, register_claim, transition
from shared.claims.workflow import ClaimResult, ClaimStatus
from shared.clock import utcnow
from shared.customers.models import Customer
from shared.enums import Channel, Direction, InteractionChannel, Priority, Remedy, Role
from shared.interactions.service import log_interaction
from shared.plans.service import add_plan_item, complete_plan_item
from shared.staff.models import StaffUser
from shared.staff.service import hash_password

DEMO_KEY = "demo_loaded"
SEED = 20260101

DEPARTMENTS = {
    "Служба доставки": ["Курьер Петров А.", "Курьер Сидоров В.", "Диспетчер Орлова Е."],
    "Склад": ["Кладовщик Иванов П.", "Комплектовщик Зайцева М."],
    "Отдел продаж": ["Менеджер Кузнецова О.", "Менеджер Смирнов Д."],
    "Сервисный центр": ["Инженер Волков С.", "Инженер Лебедев Н."],
    "Колл-центр": ["Оператор Морозова И.", "Оператор Новиков Р."],
    "Бухгалтерия": ["Бухгалтер Соколова Т."],
}

REASONS = {
    "Доставка": ["Опоздание доставки", "Повреждение при доставке", "Доставлен не тот товар"],
    "Качество товара": ["Брак товара", "Несоответствие описанию", "Некомплект"],
    "Обслуживание": ["Грубость персонала", "Долгое ожидание ответа"],
    "Оплата": ["Ошибка в счёте", "Задержка возврата денег"],
}

# The department usually at fault for each reason, so the structure report looks like a real one.
REASON_DEPARTMENT = {
    "Опоздание доставки": "Служба доставки",
    "Повреждение при доставке": "Служба доставки",
    "Доставлен не тот товар": "Склад",
    "Брак товара": "Сервисный центр",
    "Несоответствие описанию": "Отдел продаж",
    "Некомплект": "Склад",
    "Грубость персонала": "Колл-центр",
    "Долгое ожидание ответа": "Колл-центр",
    "Ошибка в счёте": "Бухгалтерия",
    "Задержка возврата денег": "Бухгалтерия",
}

STORIES = {
    "Опоздание доставки": [
        "Заказ должны были привезти {day}, но курьер так и не приехал. Никто не позвонил.",
        "Доставку переносили три раза, я специально отпрашивался с работы.",
    ],
    "Повреждение при доставке": [
        "Коробка пришла смятая, у телевизора треснул экран.",
        "Курьер уронил посылку при мне, внутри разбилась ваза.",
    ],
    "Доставлен не тот товар": [
        "Заказывала синий чайник, привезли красный и другой модели.",
        "Вместо зарядного устройства в коробке лежал чехол.",
    ],
    "Брак товара": [
        "Пылесос перестал включаться через неделю после покупки.",
        "У кофемашины течёт вода из-под поддона с первого дня.",
    ],
    "Несоответствие описанию": [
        "На сайте указано 8 ГБ памяти, а в ноутбуке 4 ГБ.",
        "Куртка не водонепроницаемая, хотя в описании сказано обратное.",
    ],
    "Некомплект": [
        "В комплекте шкафа не хватает фурнитуры и двух полок.",
        "В коробке нет пульта от кондиционера.",
    ],
    "Грубость персонала": [
        "Оператор колл-центра разговаривал со мной грубо и бросил трубку.",
        "Сотрудник в пункте выдачи отказался принять возврат и нахамил.",
    ],
    "Долгое ожидание ответа": [
        "Пишу в поддержку уже неделю, ответа нет.",
        "Ждал на линии 40 минут, так и не дозвонился.",
    ],
    "Ошибка в счёте": [
        "С карты списали сумму дважды за один заказ.",
        "В чеке стоит цена выше, чем была на сайте при оформлении.",
    ],
    "Задержка возврата денег": [
        "Вернул товар месяц назад, деньги до сих пор не пришли.",
        "Обещали вернуть деньги за 10 дней, прошло уже три недели.",
    ],
}

FIRST_NAMES = [
    "Анна",
    "Иван",
    "Мария",
    "Сергей",
    "Ольга",
    "Дмитрий",
    "Елена",
    "Алексей",
    "Татьяна",
    "Павел",
    "Наталья",
    "Андрей",
    "Юлия",
    "Михаил",
    "Светлана",
    "Николай",
    "Ирина",
    "Артём",
    "Ксения",
    "Роман",
]
LAST_NAMES = [
    "Смирнов",
    "Иванов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
]
FEMALE = {"Анна", "Мария", "Ольга", "Елена", "Татьяна", "Наталья", "Юлия", "Светлана", "Ирина", "Ксения"}

STAFF = [
    ("demo.manager", "Руководитель Зайцев К.", Role.MANAGER),
    ("demo.operator1", "Оператор Морозова И.", Role.OPERATOR),
    ("demo.operator2", "Оператор Новиков Р.", Role.OPERATOR),
]

PLAN_STEPS = [
    "Запросить у клиента фото и чек",
    "Проверить заказ в учётной системе",
    "Получить объяснение от виновного сотрудника",
    "Провести экспертизу товара",
    "Согласовать решение с руководителем",
]

RESOLUTIONS = {
    ClaimResult.SATISFIED: "Приносим извинения. Мы вернём вам полную стоимость заказа в течение 5 рабочих дней.",
    ClaimResult.PARTIALLY_SATISFIED: "Мы компенсируем стоимость доставки и дарим промокод на 500 ₽.",
    ClaimResult.REJECTED: "Проверка показала, что товар исправен и доставлен в срок. Претензия отклонена.",
}


@dataclass
class DemoSummary:
    loaded: bool
    claims: int = 0
    customers: int = 0


async def load_demo(session: AsyncSession, *, claims: int = 500, now: datetime | None = None) -> DemoSummary:
    """Load the demo data set once; a second call finds the marker and does nothing."""
    # A transaction-scoped advisory lock: two `claimdesk demo` at once cannot both load it.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('claimdesk_demo'))"))
    if await session.get(AppMeta, DEMO_KEY) is not None:
        return DemoSummary(loaded=False)
    rng = random.Random(SEED)
    now = now or utcnow()

    departments: dict[str, Department] = {}
    employees: dict[str, list[Employee]] = {}
    for dep_name, people in DEPARTMENTS.items():
        department, _ = await ensure_by_name(session, Department, dep_name)
        departments[dep_name] = department
        employees[dep_name] = []
        for person in people:
            employee, _ = await ensure_by_name(session, Employee, person, department_id=department.id)
            employees[dep_name].append(employee)
    reasons: dict[str, Reason] = {}
    for group_name, children in REASONS.items():
        group, _ = await ensure_by_name(session, Reason, group_name)
        for child in children:
            reasons[child], _ = await ensure_by_name(session, Reason, child, parent_id=group.id)

    staff: list[StaffUser] = []
    for login, full_name, role in STAFF:
        # A random password nobody knows: demo staff exist to be responsible, not to sign in.
        await session.execute(
            insert(StaffUser)
            .values(
                login=login,
                full_name=full_name,
                role=role.value,
                password_hash=hash_password(f"demo-{rng.random()}"),
                language="ru",
            )
            .on_conflict_do_nothing(index_elements=[StaffUser.login])
        )
        staff.append(await session.scalar(select(StaffUser).where(StaffUser.login == login)))  # type: ignore[arg-type]

    customers: list[Customer] = []
    for i in range(claims // 2):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES) + ("а" if first in FEMALE else "")
        customer = Customer(
            name=f"{first} {last}",
            phone=f"+7916{rng.randrange(10**6, 10**7):07d}",
            language="ru",
            # Demo customers live outside Telegram: nothing is ever sent to a made-up chat.
            telegram_user_id=None,
        )
        session.add(customer)
        customers.append(customer)
        if i % 50 == 0:
            await session.flush()
    await session.flush()

    reason_names = list(REASON_DEPARTMENT)
    weights = [14, 9, 6, 12, 7, 5, 4, 8, 3, 5]
    for _ in range(claims):
        # Seasonal: more claims towards the end of the year (holiday orders).
        days_ago = int(rng.triangular(0, 365, 40))
        registered = now - timedelta(days=days_ago, hours=rng.randrange(0, 12), minutes=rng.randrange(60))
        reason_name = rng.choices(reason_names, weights)[0]
        story = rng.choice(STORIES[reason_name]).format(day=(registered - timedelta(days=2)).strftime("%d.%m"))
        customer = rng.choice(customers)
        staff_actor = rng.choice(staff)
        claim = await register_claim(
            session,
            claim_in=NewClaim(
                customer_id=customer.id,
                description=story,
                channel=rng.choices([Channel.TELEGRAM, Channel.PHONE, Channel.EMAIL, Channel.WEB], [6, 2, 1, 1])[0],
                remedy=rng.choice(list(Remedy)),
                order_ref=f"ЗК-{rng.randrange(10000, 99999)}",
                amount_claimed=Decimal(rng.randrange(500, 60000)),
                priority=rng.choices(list(Priority), [1, 6, 2, 1])[0],
                registered_at=registered,
            ),
            actor=Actor.customer(customer.id),
        )
        age = now - registered
        if age < timedelta(days=1) and rng.random() < 0.7:
            continue  # fresh claims still wait for triage
        moment = registered + timedelta(hours=rng.randrange(1, 20))
        dep_name = REASON_DEPARTMENT[reason_name] if rng.random() < 0.85 else rng.choice(list(DEPARTMENTS))
        await assign(
            session,
            claim_id=claim.id,
            actor=Actor.staff(staff_actor.id),
            reason_id=reasons[reason_name].id,
            culprit_department_id=departments[dep_name].id if rng.random() < 0.92 else None,
            culprit_employee_id=rng.choice(employees[dep_name]).id if rng.random() < 0.6 else None,
            responsible_id=staff_actor.id,
        )
        await transition(
            session, claim_id=claim.id, to=ClaimStatus.IN_PROGRESS, actor=Actor.staff(staff_actor.id), at=moment
        )
        await log_interaction(
            session,
            actor=Actor.staff(staff_actor.id),
            direction=Direction.OUTBOUND,
            channel=InteractionChannel.PHONE,
            claim_id=claim.id,
            author_id=staff_actor.id,
            counterpart_name=customer.name,
            counterpart_role="клиент",
            text="Связались с клиентом, уточнили детали и сроки рассмотрения.",
            occurred_at=moment,
        )
        for step in rng.sample(PLAN_STEPS, rng.randrange(1, 4)):
            item = await add_plan_item(
                session,
                claim_id=claim.id,
                actor=Actor.staff(staff_actor.id),
                title=step,
                owner_id=rng.choice(employees[dep_name]).id,
                due_date=(moment + timedelta(days=rng.randrange(1, 6))).date(),
                at=moment,
            )
            if age > timedelta(days=7):
                await complete_plan_item(
                    session,
                    item_id=item.id,
                    actor=Actor.staff(staff_actor.id),
                    outcome="Выполнено",
                    at=moment + timedelta(days=1),
                )
        if age < timedelta(days=5) or rng.random() < 0.08:
            continue  # still in progress
        resolved_at = moment + timedelta(hours=rng.randrange(4, 24 * 9))
        if resolved_at > now:
            continue
        result = rng.choices(list(ClaimResult), [5, 3, 2])[0]
        await transition(
            session,
            claim_id=claim.id,
            to=ClaimStatus.RESOLVED,
            actor=Actor.staff(staff_actor.id),
            result=result,
            resolution=RESOLUTIONS[result],
            at=resolved_at,
            amount_granted=None if result is ClaimResult.REJECTED else Decimal(rng.randrange(300, 20000)),
        )
        if age > timedelta(days=20) and rng.random() < 0.85:
            closed_at = resolved_at + timedelta(days=rng.randrange(1, 7))
            await transition(
                session, claim_id=claim.id, to=ClaimStatus.CLOSED, actor=Actor.customer(customer.id), at=closed_at
            )
            if rng.random() < 0.6:
                score = {ClaimResult.SATISFIED: 5, ClaimResult.PARTIALLY_SATISFIED: 4, ClaimResult.REJECTED: 2}[
                    result
                ] - rng.choice([0, 0, 1])
                await record_satisfaction(
                    session,
                    claim_id=claim.id,
                    actor=Actor.customer(customer.id),
                    score=score,
                    at=closed_at + timedelta(hours=1),
                )
    session.add(AppMeta(key=DEMO_KEY, value={"claims": claims, "at": now.isoformat(), "seed": SEED}))
    await session.flush()
    return DemoSummary(loaded=True, claims=claims, customers=len(customers))
