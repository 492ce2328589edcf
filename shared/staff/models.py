"""Staff who sign in to the back-office, their API tokens and their web sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String, true
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, Timestamped
from shared.enums import Role, check_in


class StaffUser(Timestamped, Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.OPERATOR)
    employee_id: Mapped[int | None] = mapped_column(ForeignKey("employee.id"))
    # The language of the staff pages (set from the page header); DEFAULT_LANGUAGE when created.
    language: Mapped[str] = mapped_column(String(8), default="ru")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The staff member's own Telegram account, once linked (shared/staff/telegram.py): what they may
    # do from the staff group's topics, and where their personal alerts go.
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Personal alerts in Telegram, each switchable on the profile page.
    alert_assigned: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    alert_customer_wrote: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    alert_overdue: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    __table_args__ = (check_in("role", Role),)


class ApiToken(Timestamped, Base):
    """Only a SHA-256 of the token is kept: tokens are long random strings, so a fast hash is enough
    and lets the lookup use an index."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StaffSession(Timestamped, Base):
    """A server-side sign-in session: revocable and expiring; the cookie holds a random id whose
    SHA-256 is the key here."""

    __tablename__ = "staff_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    # The web pages' CSRF token: random, bound to this session, sent back with every form and
    # state-changing htmx request (backoffice/web/csrf.py). NULL for sessions opened before 0009.
    csrf_token: Mapped[str | None] = mapped_column(String(64))


class StaffLinkCode(Timestamped, Base):
    """A one-time code a staff member sends to the bot to link their Telegram account
    (shared/staff/linking.py): valid for minutes, used once; only its SHA-256 is kept, so the
    table's contents link nothing."""

    __tablename__ = "staff_link_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
