"""The customer behind a Telegram user, as the bot needs it on every update."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from shared.customers.models import Customer
from shared.customers.service import get_by_telegram_id, upsert_telegram_customer
from shared.i18n import normalize_language


async def customer_for_telegram_user(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    chat_id: int,
    first_name: str,
    last_name: str | None,
    username: str | None,
    language_code: str | None,
    default_language: str,
    private_chat: bool = True,
) -> Customer:
    """One SELECT for a known customer; the upsert (race-safe creation) only on first contact.

    The language is taken from Telegram's language_code once, when the customer is created;
    after that the customer's own choice (/lang) wins.

    `chat_id` is where the desk writes to the customer, so only a private chat may set it: a
    message from a group would otherwise send their claims to everyone in it. (In Telegram a
    user's private chat has the user's id, which is used when the first contact is not private.)
    """
    if not private_chat:
        chat_id = telegram_user_id
    customer = await get_by_telegram_id(session, telegram_user_id=telegram_user_id)
    if customer is not None:
        if (private_chat and customer.telegram_chat_id != chat_id) or customer.username != username:
            if private_chat:
                customer.telegram_chat_id = chat_id
            customer.username = username
            await session.flush()
        return customer
    name = " ".join(part for part in (first_name, last_name) if part).strip() or str(telegram_user_id)
    return await upsert_telegram_customer(
        session,
        telegram_user_id=telegram_user_id,
        chat_id=chat_id,
        name=name,
        username=username,
        language=normalize_language(language_code, default_language),
    )
