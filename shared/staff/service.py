"""Staff users, password checks (argon2) and API tokens (stored as SHA-256 only)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.enums import Role
from shared.errors import Conflict, InvalidValue, NotFound
from shared.settings import get_settings
from shared.staff.models import ApiToken, StaffUser

_hasher = PasswordHasher()
TOKEN_PREFIX = "cdk_"
MIN_PASSWORD = 8
# Checked against when the login is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("claimdesk-timing-equaliser")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidValue("password", f"must be at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


async def hash_password_off_loop(password: str) -> str:
    """`hash_password` in a worker thread: argon2 takes tens of milliseconds of CPU by design, which
    would stall every other request of the event loop."""
    if len(password) < MIN_PASSWORD:
        raise InvalidValue("password", f"must be at least {MIN_PASSWORD} characters")
    return await asyncio.to_thread(_hasher.hash, password)


async def create_user(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    role: Role | str,
    full_name: str = "",
    employee_id: int | None = None,
    language: str | None = None,
) -> StaffUser:
    login = login.strip().lower()
    if not login or len(login) > 64 or not all(c.isalnum() or c in "._-@" for c in login):
        raise InvalidValue("login", "use 1-64 letters, digits, '.', '_', '-' or '@'")
    try:
        role = Role(role)
    except ValueError:
        raise InvalidValue("role", f"must be one of {', '.join(Role)}") from None
    if await session.scalar(select(StaffUser.id).where(StaffUser.login == login)):
        raise Conflict(f"login '{login}' is taken", field="login")
    user = StaffUser(
        login=login,
        password_hash=await hash_password_off_loop(password),
        role=role.value,
        full_name=full_name.strip(),
        employee_id=employee_id,
        language=language or get_settings().default_language,
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, *, login: str, password: str) -> StaffUser | None:
    user = await session.scalar(select(StaffUser).where(StaffUser.login == login.strip().lower()))
    try:
        # Off the event loop (argon2 is slow on purpose); the dummy hash keeps a miss as slow as a hit.
        await asyncio.to_thread(_hasher.verify, user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(_hasher.hash, password)
    return user


async def get_user(session: AsyncSession, *, user_id: int) -> StaffUser:
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("staff_user", user_id)
    return user


async def get_user_by_login(session: AsyncSession, *, login: str) -> StaffUser:
    user = await session.scalar(select(StaffUser).where(StaffUser.login == login.strip().lower()))
    if user is None:
        raise NotFound("staff_user", login)
    return user


async def has_staff_users(session: AsyncSession) -> bool:
    """Whether anyone can sign in yet (a fresh desk has no staff user: the first admin is made with
    `claimdesk users add NAME --role admin`)."""
    return await session.scalar(select(StaffUser.id).limit(1)) is not None


async def list_users(session: AsyncSession) -> Sequence[StaffUser]:
    return (await session.scalars(select(StaffUser).order_by(StaffUser.login))).all()


async def issue_token(session: AsyncSession, *, user_id: int, name: str) -> tuple[str, ApiToken]:
    """A new API token; the plain value is returned once and never stored."""
    user = await get_user(session, user_id=user_id)
    if not name.strip():
        raise InvalidValue("name", "must not be empty")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(owner_id=user.id, name=name.strip()[:100], token_hash=hash_token(token))
    session.add(row)
    await session.flush()
    return token, row


async def revoke_token(session: AsyncSession, *, token_id: int) -> ApiToken:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound("api_token", token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return row
