"""Linking a staff member's Telegram account: by a one-time code from their profile page (sent to
the bot in a private chat: `/link CODE`, or the bot's deep link), or by an admin; unlinking.

A code is 8 characters of an unambiguous 29-character alphabet (about 5 * 10^11 values), valid for
`CODE_TTL`, used once, and a new one replaces the user's earlier codes. Only its SHA-256 is
stored. Guessing is throttled at the edge that takes codes (the bot: bot/routers/staff_link.py);
at a few tries per Telegram account per window, a guess succeeds once in hundreds of billions.

Every link and unlink is a desk event (`telegram_linked`, `telegram_unlinked`): who may act from
Telegram is a security matter, and the history must say who changed it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.actors import Actor
from shared.audit.service import log_desk_event
from shared.clock import utcnow
from shared.errors import Conflict, InvalidValue
from shared.staff.models import StaffLinkCode, StaffUser
from shared.staff.service import get_user, hash_token

CODE_TTL = timedelta(minutes=10)
# No 0/O, 1/I/L, U/V look-alikes: a code is read off a screen and typed on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
CODE_LENGTH = 8
# What the bot's deep link carries (`/start link-CODE`): Telegram allows [A-Za-z0-9_-] in a payload.
DEEP_LINK_PREFIX = "link-"
MAX_TELEGRAM_ID = 2**63 - 1
_SEPARATORS = re.compile(r"[\s\-_]+")


class LinkOutcome(StrEnum):
    LINKED = "linked"
    UNKNOWN = "unknown"  # no such code (mistyped, guessed, or replaced by a newer one)
    EXPIRED = "expired"
    USED = "used"
    INACTIVE = "inactive"  # the staff account was deactivated after the code was made


@dataclass(frozen=True, slots=True)
class LinkCode:
    code: str  # shown once on the profile page, never stored
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkResult:
    outcome: LinkOutcome
    user: StaffUser | None = None


def normalize_code(raw: str) -> str:
    """What the person typed, as the code was shown: case, spaces and dashes do not matter."""
    return _SEPARATORS.sub("", raw or "").upper()[: CODE_LENGTH * 2]


async def issue_link_code(session: AsyncSession, *, user: StaffUser) -> LinkCode:
    """A new code for `user`; their earlier codes stop working (only the newest one shown counts)."""
    await session.execute(delete(StaffLinkCode).where(StaffLinkCode.user_id == user.id))
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires_at = utcnow() + CODE_TTL
    session.add(StaffLinkCode(code_hash=hash_token(code), user_id=user.id, expires_at=expires_at))
    await session.flush()
    return LinkCode(code=code, expires_at=expires_at)


async def pending_code_expiry(session: AsyncSession, *, user_id: int) -> datetime | None:
    """When the user's unused code runs out (None: no live code): the profile page says so."""
    return await session.scalar(
        select(StaffLinkCode.expires_at).where(
            StaffLinkCode.user_id == user_id,
            StaffLinkCode.used_at.is_(None),
            StaffLinkCode.expires_at > utcnow(),
        )
    )


async def _attach(session: AsyncSession, user: StaffUser, telegram_user_id: int) -> int | None:
    """Link the account to `user`, taking it from whoever had it; returns that staff user's id."""
    previous = await session.scalar(
        select(StaffUser).where(StaffUser.telegram_user_id == telegram_user_id, StaffUser.id != user.id)
    )
    if previous is not None:
        previous.telegram_user_id = None
        await session.flush()  # before the new link: the column is unique
    user.telegram_user_id = telegram_user_id
    await session.flush()
    return previous.id if previous is not None else None


async def redeem_link_code(session: AsyncSession, *, code: str, telegram_user_id: int) -> LinkResult:
    """The bot received `code` from `telegram_user_id` in a private chat: link them if the code is
    live. The code's row is locked, so two messages with one code link once. The person proved
    they hold both the staff account (the code) and the Telegram account (they sent it): a
    Telegram account linked to another staff user moves here."""
    row = await session.scalar(
        select(StaffLinkCode).where(StaffLinkCode.code_hash == hash_token(normalize_code(code))).with_for_update()
    )
    if row is None:
        return LinkResult(LinkOutcome.UNKNOWN)
    user = await get_user(session, user_id=row.user_id)
    if row.used_at is not None:
        return LinkResult(LinkOutcome.USED, user)
    if row.expires_at <= utcnow():
        return LinkResult(LinkOutcome.EXPIRED, user)
    if not user.active:
        return LinkResult(LinkOutcome.INACTIVE, user)
    row.used_at = utcnow()
    moved_from = await _attach(session, user, telegram_user_id)
    await log_desk_event(
        session,
        actor=Actor.staff(user.id),
        kind="telegram_linked",
        details={
            "staff_user_id": user.id,
            "telegram_user_id": telegram_user_id,
            "by": "code",
            "moved_from_staff_user_id": moved_from,
        },
    )
    return LinkResult(LinkOutcome.LINKED, user)


def parse_telegram_id(raw: str) -> int:
    """A Telegram user id typed by an admin (a positive number)."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_TELEGRAM_ID:
        raise InvalidValue("telegram_user_id", "must be a positive number")
    return int(text)


async def link_telegram(session: AsyncSession, *, user_id: int, telegram_user_id: int, actor: Actor) -> StaffUser:
    """An admin links a staff user's Telegram account by its id. Unlike a code, an admin's word
    does not prove who holds the account: one linked to another staff user is refused."""
    if not 1 <= telegram_user_id <= MAX_TELEGRAM_ID:
        raise InvalidValue("telegram_user_id", "must be a positive number")
    user = await get_user(session, user_id=user_id)
    other = await session.scalar(
        select(StaffUser.id).where(StaffUser.telegram_user_id == telegram_user_id, StaffUser.id != user.id)
    )
    if other is not None:
        raise Conflict("this Telegram account is linked to another staff user", field="telegram_user_id")
    if user.telegram_user_id == telegram_user_id:
        return user
    user.telegram_user_id = telegram_user_id
    await session.flush()
    await log_desk_event(
        session,
        actor=actor,
        kind="telegram_linked",
        details={"staff_user_id": user.id, "telegram_user_id": telegram_user_id, "by": "admin"},
    )
    return user


async def unlink_telegram(session: AsyncSession, *, user_id: int, actor: Actor) -> StaffUser:
    """The staff user's Telegram account is no longer theirs in the desk: no power from Telegram,
    no personal alerts. Unlinking an unlinked user changes nothing."""
    user = await get_user(session, user_id=user_id)
    if user.telegram_user_id is None:
        return user
    previous = user.telegram_user_id
    user.telegram_user_id = None
    await session.flush()
    await log_desk_event(
        session,
        actor=actor,
        kind="telegram_unlinked",
        details={"staff_user_id": user.id, "telegram_user_id": previous},
    )
    return user
