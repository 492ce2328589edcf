"""Messages the desk owes a customer, written in the transaction of the change that causes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.enums import OutboxStatus, check_in


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    interaction_id: Mapped[int | None] = mapped_column(ForeignKey("interaction.id"), index=True)
    status: Mapped[str] = mapped_column(String(8), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When delivery failed for good (the undelivered messages page), and the message that was
    # queued again in its place when staff chose to resend it (shared/outbox/undelivered.py).
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resent_as_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"))

    __table_args__ = (
        check_in("status", OutboxStatus),
        # The worker's scan: due messages not yet done, oldest first.
        Index(
            "ix_outbox_message_due",
            "next_attempt_at",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_outbox_message_chat", "chat_id", "id"),
        # The undelivered messages page: failed and not sent again, newest first.
        Index(
            "ix_outbox_message_undelivered",
            "failed_at",
            postgresql_where=text("status = 'failed' AND resent_as_id IS NULL"),
        ),
    )
