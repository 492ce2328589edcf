"""Saved replies: texts staff send to customers often, one set per language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, String, Text, func, true
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class ReplyTemplate(Base):
    __tablename__ = "reply_template"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # The customers' language the text is written in (the card offers those of its customer's).
    language: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_reply_template_language_title", "language", "title"),)
