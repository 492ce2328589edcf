"""The staff group's forum topics: one per claim, and what the desk knows of the group itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, String, Text, UniqueConstraint, false, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class ClaimTopic(Base):
    """A claim's topic in the staff group. `thread_id` is NULL until the delivery worker has created
    it, and again once Telegram says it is gone (deleted by hand): the next event re-creates it.
    `name` and `icon` are what the topic shows now (editForumTopic is called only on a change)."""

    __tablename__ = "claim_topic"

    claim_id: Mapped[int] = mapped_column(ForeignKey("claim.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(128))
    icon: Mapped[str | None] = mapped_column(String(32))
    closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Resolve... from the topic: who started it, the result they chose, the text they wrote (the
    # preview waits for their confirmation). One draft per claim: a second staff member's Resolve...
    # replaces it.
    resolve_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    resolve_result: Mapped[str | None] = mapped_column(String(16))
    resolve_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("chat_id", "thread_id"),)


class StaffGroup(Base):
    """Whether topics work in the staff group. The delivery worker sets `forum` false when Telegram
    refuses a topic (not a forum, no right to manage topics) and the desk falls back to flat posts;
    it tries topics again after `RECHECK` (shared/topics/lane.py), so granting the right is enough."""

    __tablename__ = "staff_group"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    forum: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
