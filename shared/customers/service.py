"""Customers: who files claims, known by their Telegram account, their phone, or both."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.customers.models import Customer
from shared.errors import InvalidValue

_PHONE_CHARS = re.compile(r"[\s()\-.]")
_PHONE = re.compile(r"^\+?\d{6,15}$")


def normalize_phone(raw: str) -> str:
    """`+7 (912) 345-67-89` -> `+79123456789`; a Russian leading 8 becomes +7."""
    phone = _PHONE_CHARS.sub("", raw.strip())
    if not _PHONE.match(phone):
        raise InvalidValue("phone", "expected a phone number of 6 to 15 digits, optionally with +")
    if phone.startswith("8") and len(phone) == 11:
        phone = "+7" + phone[1:]
    elif not phone.startswith("+"):
        phone = "+" + phone
    return phone


async def upsert_telegram_customer(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    chat_id: int,
    name: str,
    username: str | None,
    language: str,
) -> Customer:
    """The customer behind a Telegram user, created on first contact.

    An upsert rather than select-then-insert: two updates from a new user handled at once
    must not both create them.
    """
    stmt = (
        insert(Customer)
        .values(
            telegram_user_id=telegram_user_id,
            telegram_chat_id=chat_id,
            name=name[:255],
            username=username,
            language=language,
        )
        .on_conflict_do_update(
            index_elements=[Customer.telegram_user_id],
            set_={"telegram_chat_id": chat_id, "username": username},
        )
        .returning(Customer.id)
    )
    customer_id = await session.scalar(stmt)
    return await session.get_one(Customer, customer_id, populate_existing=True)


async def get_by_telegram_id(session: AsyncSession, *, telegram_user_id: int) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.telegram_user_id == telegram_user_id))


async def find_or_create_customer(
    session: AsyncSession,
    *,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    telegram_user_id: int | None = None,
    language: str = "ru",
) -> tuple[Customer, bool]:
    """Match by Telegram id, else by phone; else create. Returns the customer and whether it is new."""
    clean_phone = normalize_phone(phone) if phone else None
    customer: Customer | None = None
    if telegram_user_id is not None:
        customer = await get_by_telegram_id(session, telegram_user_id=telegram_user_id)
    if customer is None and clean_phone:
        customer = await session.scalar(
            select(Customer).where(Customer.phone == clean_phone).order_by(Customer.id).limit(1)
        )
    if customer is not None:
        if clean_phone and not customer.phone:
            customer.phone = clean_phone
        return customer, False
    if not name.strip():
        raise InvalidValue("customer_name", "must not be empty")
    customer = Customer(
        name=name.strip()[:255],
        phone=clean_phone,
        email=email,
        telegram_user_id=telegram_user_id,
        telegram_chat_id=telegram_user_id,  # a private chat's id is the user's id
        language=language,
    )
    session.add(customer)
    await session.flush()
    return customer, True


async def set_phone(session: AsyncSession, *, customer: Customer, phone: str) -> Customer:
    customer.phone = normalize_phone(phone)
    await session.flush()
    return customer


async def set_language(session: AsyncSession, *, customer: Customer, language: str) -> Customer:
    if language not in ("ru", "en"):
        raise InvalidValue("language", "must be ru or en")
    customer.language = language
    await session.flush()
    return customer
