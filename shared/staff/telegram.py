"""Staff members' Telegram identity: who, among the people writing in the staff group or to the
bot, is a staff member of the desk. Only a linked, ACTIVE staff user has any power from Telegram:
deactivating the account takes every one of them away at once, because every check goes here."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.staff.models import StaffUser


async def staff_for_telegram_user(session: AsyncSession, *, telegram_user_id: int) -> StaffUser | None:
    """The active staff user who linked this Telegram account, or None."""
    return await session.scalar(
        select(StaffUser).where(StaffUser.telegram_user_id == telegram_user_id, StaffUser.active.is_(True))
    )
