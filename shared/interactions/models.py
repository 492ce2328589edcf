"""Everything said about a claim: customer messages, staff replies, calls, meetings, notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import Base
from shared.enums import AttachmentKind, DeliveryState, Direction, FileRemoval, InteractionChannel, check_in

INTERACTION_SEARCH_SQL = (
    "to_tsvector('russian'::regconfig, coalesce(text, '')) || to_tsvector('english'::regconfig, coalesce(text, ''))"
)


class Interaction(Base):
    __tablename__ = "interaction"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Nullable: a message from a customer with no claim is still kept.
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claim.id"))  # indexed with occurred_at
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16))
    counterpart_name: Mapped[str | None] = mapped_column(String(200))
    counterpart_role: Mapped[str | None] = mapped_column(String(100))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    text: Mapped[str] = mapped_column(Text, default="")

    tg_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    tg_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # 0 for the message as first sent; an edit is its own row with Telegram's edit_date, so the
    # original text is never overwritten and a redelivered edit is still stored once.
    tg_edit_date: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tg_media_group_id: Mapped[str | None] = mapped_column(String(64))
    edit_of_id: Mapped[int | None] = mapped_column(ForeignKey("interaction.id"))

    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    delivery_state: Mapped[str | None] = mapped_column(String(8))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    search_vector: Mapped[str | None] = mapped_column(
        TSVECTOR, Computed(INTERACTION_SEARCH_SQL, persisted=True), deferred=True
    )

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="interaction", lazy="selectin", order_by="Attachment.id"
    )

    __table_args__ = (
        check_in("direction", Direction),
        check_in("channel", InteractionChannel),
        check_in("delivery_state", DeliveryState),
        UniqueConstraint("tg_chat_id", "tg_message_id", "tg_edit_date", name="uq_interaction_tg_message"),
        Index("ix_interaction_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_interaction_claim_occurred", "claim_id", "occurred_at"),
    )


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interaction.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    tg_file_id: Mapped[str | None] = mapped_column(String(255))
    tg_file_unique_id: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(127))
    size: Mapped[int | None] = mapped_column(Integer)
    # Where a staff upload or a cached download sits under CLAIMDESK_DATA_DIR/files.
    storage_path: Mapped[str | None] = mapped_column(String(500))
    # The file is gone (deleted from the disk cache, its Telegram ids cleared) but the row stays:
    # when, and why (the retention period ended, or the customer's data was erased).
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_reason: Mapped[str | None] = mapped_column(String(16))

    interaction: Mapped[Interaction] = relationship(back_populates="attachments", lazy="raise")

    __table_args__ = (
        check_in("kind", AttachmentKind),
        CheckConstraint(
            "removed_reason IS NULL OR removed_reason IN (" + ", ".join(f"'{r.value}'" for r in FileRemoval) + ")",
            name="removed_reason_allowed",
        ),
    )
