"""The audit trail: one row per change of a claim, with who did it and the values before and after;
one row per act on a customer's personal data (its export, its erasure), with who and when; and
one row per change to the desk itself that concerns no single claim (`DeskEvent`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.enums import ActorKind, check_in


class ClaimEvent(Base):
    __tablename__ = "claim_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id"))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        check_in("actor_kind", ActorKind),
        Index("ix_claim_event_claim_at", "claim_id", "at"),
        Index("ix_claim_event_kind", "kind"),
    )


class CustomerEvent(Base):
    """Who exported or erased a customer's personal data, and when (152-FZ / GDPR requests)."""

    __tablename__ = "customer_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        check_in("actor_kind", ActorKind),
        Index("ix_customer_event_customer_at", "customer_id", "at"),
    )


class DeskEvent(Base):
    """A change to the desk rather than to one claim: the catalogs filled from the starter set, a
    message that concerned no claim sent again. Who did it, what, and its details."""

    __tablename__ = "desk_event"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (check_in("actor_kind", ActorKind), Index("ix_desk_event_kind_at", "kind", "at"))
