"""Signing staff in: server-side sessions, API-token look-ups, and the admin's user management.

Session ids and tokens are long random strings; only their SHA-256 is stored. The "last seen"
stamps are written at most once a minute, so an authenticated read does not turn into a write.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.catalogs.models import Employee
from shared.clock import utcnow
from shared.enums import Role
from shared.errors import Conflict, InvalidValue, NotFound
from shared.staff.models import ApiToken, StaffSession, StaffUser
from shared.staff.service import get_user, hash_password_off_loop, hash_token

SESSION_TTL = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)
USER_FIELDS = ("role", "active", "full_name", "language", "password", "employee_id")


async def open_session(
    session: AsyncSession, *, user: StaffUser, remote_addr: str | None, replaces: str | None = None
) -> tuple[str, StaffSession]:
    """A new session (a new id at every sign-in); the one it replaces, if any, is revoked."""
    now = utcnow()
    if replaces:
        await session.execute(
            update(StaffSession)
            .where(StaffSession.id_hash == hash_token(replaces), StaffSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    session_id = secrets.token_urlsafe(32)
    row = StaffSession(
        id_hash=hash_token(session_id),
        user_id=user.id,
        expires_at=now + SESSION_TTL,
        last_seen_at=now,
        remote_addr=(remote_addr or "")[:64] or None,
        csrf_token=secrets.token_urlsafe(32),
    )
    session.add(row)
    await session.flush()
    return session_id, row


async def signed_in_from(session: AsyncSession, *, login: str, address: str) -> bool:
    """Whether this login ever signed in from this address (its sessions keep the address they were
    opened from): the sign-in throttle does not let strangers' failures there lock its owner out."""
    found = await session.scalar(
        select(StaffSession.user_id)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffUser.login == login.strip().lower(), StaffSession.remote_addr == address[:64])
        .limit(1)
    )
    return found is not None


async def close_session(session: AsyncSession, *, session_id: str) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.id_hash == hash_token(session_id), StaffSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def user_for_session(session: AsyncSession, *, session_id: str) -> StaffUser | None:
    signed_in = await signed_in_session(session, session_id=session_id)
    return signed_in[0] if signed_in is not None else None


async def signed_in_session(session: AsyncSession, *, session_id: str) -> tuple[StaffUser, StaffSession] | None:
    """The user of a live session and the session row (the web pages read its CSRF token)."""
    now = utcnow()
    row = (
        await session.execute(
            select(StaffUser, StaffSession)
            .join(StaffSession, StaffSession.user_id == StaffUser.id)
            .where(
                StaffSession.id_hash == hash_token(session_id),
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > now,
                StaffUser.active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    user, staff_session = row
    if staff_session.last_seen_at is None or now - staff_session.last_seen_at > TOUCH_EVERY:
        await session.execute(
            update(StaffSession).where(StaffSession.id_hash == hash_token(session_id)).values(last_seen_at=now)
        )
    return user, staff_session


async def set_own_language(session: AsyncSession, *, user: StaffUser, language: str) -> StaffUser:
    """A staff user's own choice of the pages' language (no admin right needed, nothing else changes)."""
    if language not in ("ru", "en"):
        raise InvalidValue("language", "must be ru or en")
    user.language = language
    await session.flush()
    return user


async def set_own_alerts(
    session: AsyncSession, *, user: StaffUser, assigned: bool, customer_wrote: bool, overdue: bool
) -> StaffUser:
    """A staff user's own choice of personal alerts in Telegram (the profile page)."""
    user.alert_assigned = assigned
    user.alert_customer_wrote = customer_wrote
    user.alert_overdue = overdue
    await session.flush()
    return user


# Built once: every API call signs in with it (building the statement cost as much as running it).
_TOKEN_USER = (
    select(StaffUser, ApiToken.id, ApiToken.last_used_at)
    .join(ApiToken, ApiToken.owner_id == StaffUser.id)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        StaffUser.active.is_(True),
    )
)


async def user_for_api_token(session: AsyncSession, *, token: str) -> StaffUser | None:
    now = utcnow()
    row = (await session.execute(_TOKEN_USER, {"token_hash": hash_token(token)})).first()
    if row is None:
        return None
    user, token_id, last_used = row
    if last_used is None or now - last_used > TOUCH_EVERY:
        await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return user


async def revoke_user_sessions(session: AsyncSession, *, user_id: int, at: datetime | None = None) -> None:
    await session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=at or utcnow())
    )


async def update_user(session: AsyncSession, *, user_id: int, changes: Mapping[str, Any]) -> StaffUser:
    """Change role, name, language, password or the active flag. Deactivating a user, or changing
    their role or password, ends their sign-in sessions (tokens of an inactive user stop working)."""
    unknown = sorted(set(changes) - set(USER_FIELDS))
    if unknown:
        raise InvalidValue(unknown[0], "cannot be changed this way")
    user = await get_user(session, user_id=user_id)
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "role":
            try:
                clean[field] = Role(value).value
            except ValueError:
                raise InvalidValue(field, f"must be one of {', '.join(Role)}") from None
        elif field == "language":
            if value not in ("ru", "en"):
                raise InvalidValue(field, "must be ru or en")
            clean[field] = value
        elif field == "active":
            if not isinstance(value, bool):
                raise InvalidValue(field, "must be true or false")
            clean[field] = value
        elif field == "full_name":
            name = (value or "").strip()
            if len(name) > 200:
                raise InvalidValue(field, "longer than 200 characters")
            clean[field] = name
        elif field == "employee_id":
            if value is not None and await session.get(Employee, value) is None:
                raise InvalidValue(field, f"no employee with id {value}")
            clean[field] = value
        elif field == "password":
            clean["password_hash"] = await hash_password_off_loop(value or "")  # argon2: off the loop
    loses_admin = (
        user.role == Role.ADMIN
        and user.active
        and (clean.get("active") is False or clean.get("role", Role.ADMIN) != Role.ADMIN)
    )
    if loses_admin:
        # Lock the admins while counting: two admins demoting each other at once must not both pass.
        admins = await session.scalars(
            select(StaffUser.id).where(StaffUser.role == Role.ADMIN, StaffUser.active.is_(True)).with_for_update()
        )
        if set(admins.all()) <= {user.id}:
            raise Conflict("the desk needs at least one active admin", field="role")
    end_sessions = (
        "password_hash" in clean or ("role" in clean and clean["role"] != user.role) or clean.get("active") is False
    )
    for field, value in clean.items():
        setattr(user, field, value)
    if end_sessions:
        await revoke_user_sessions(session, user_id=user.id)
    await session.flush()
    return user


async def list_tokens(session: AsyncSession, *, owner_id: int | None = None) -> Sequence[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if owner_id is not None:
        query = query.where(ApiToken.owner_id == owner_id)
    return (await session.scalars(query)).all()


async def get_token(session: AsyncSession, *, token_id: int) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("api_token", token_id)
    return row
